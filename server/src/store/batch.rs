//! The database side of one ledger batch: lock and load what the commands touch, run them
//! through the pure engine, write the results — all inside one database transaction.
//!
//! Lock order, the same in every process: pending transfers by id, then allowances by id, then
//! accounts by id. Account
//! rows are written with a conditional update on the balance that was read, so a writer that
//! somehow skipped the lock would fail loudly instead of losing an update.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable};
use mkoba_ledger::{
    AccountId, AccountState, AllowanceId, AllowanceState, Batch, BatchState, BatchWrites, Command,
    Currency, JournalEntry, LedgerRules, Outcome, PendingState, PriorUse, ReversibleTxn, Timestamp,
    TxnCodes, TxnId, TxnKind,
};

use crate::store::account_cache::{self, AccountCache, CachedAccount};
use crate::store::bulk::{AccountColumns, AccountUpdate};
use crate::store::cached::cached_if_short;
use crate::store::chain::{self, Heads};
use crate::store::db::{snapshot_transaction, write_transaction, AnyConnection};
use crate::store::rows::{AccountRow, PendingRow, PostingRow, TransactionRow};
use crate::store::schema::{
    accounts, allowance_charges, allowances, pending_transfers, postings, transactions,
};
use crate::store::StoreError;
use crate::with_conn;

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bind limits.
const INSERT_CHUNK_ROWS: usize = 1_000;

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

#[derive(QueryableByName)]
struct NextId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Transaction ids for `count` commands: from a sequence on PostgreSQL (several processes may
/// write at once); after the largest id on SQLite, whose write lock this transaction holds.
fn allocate_ids(conn: &mut AnyConnection, count: usize) -> Result<Vec<TxnId>, StoreError> {
    let count = i64::try_from(count).map_err(|_| StoreError::Conflict("batch too large".into()))?;
    match conn {
        AnyConnection::Postgres(c) => {
            let rows: Vec<NextId> = diesel::sql_query(
                "SELECT nextval('transaction_ids') AS id FROM generate_series(1, $1)",
            )
            .bind::<BigInt, _>(count)
            .load(c)?;
            Ok(rows.into_iter().map(|r| TxnId(r.id)).collect())
        }
        AnyConnection::Sqlite(c) => {
            let max: Option<i64> = transactions::table
                .select(diesel::dsl::max(transactions::id))
                .get_result(c)?;
            let start = max.unwrap_or(0) + 1;
            Ok((start..start + count).map(TxnId).collect())
        }
    }
}

/// Loads `$row`s from `$query` (a closure building the filtered, ordered query), kept prepared
/// for short lists. On PostgreSQL `Lock::ForUpdate` adds `FOR UPDATE`; SQLite's
/// `BEGIN IMMEDIATE` already holds the only write lock.
macro_rules! load_locked {
    ($conn:expr, $lock:expr, $query:expr, $row:ty, $len:expr) => {
        match $conn {
            AnyConnection::Postgres(c) if $lock == Lock::ForUpdate => {
                cached_if_short($query().for_update().select(<$row>::as_select()), $len).load(c)?
            }
            conn => with_conn!(conn, |c| cached_if_short(
                $query().select(<$row>::as_select()),
                $len
            )
            .load(c))?,
        }
    };
}

fn lock_pendings(
    conn: &mut AnyConnection,
    ids: &[i64],
    lock: Lock,
) -> Result<Vec<PendingRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = || {
        pending_transfers::table
            .filter(pending_transfers::transaction_id.eq_any(ids))
            .order(pending_transfers::transaction_id)
    };
    Ok(load_locked!(conn, lock, query, PendingRow, ids.len()))
}

fn lock_accounts(
    conn: &mut AnyConnection,
    ids: &[i64],
    lock: Lock,
) -> Result<Vec<AccountRow>, StoreError> {
    let query = || {
        accounts::table
            .filter(accounts::id.eq_any(ids))
            .order(accounts::id)
    };
    Ok(load_locked!(conn, lock, query, AccountRow, ids.len()))
}

fn load_pendings(
    conn: &mut AnyConnection,
    ids: &[i64],
    lock: Lock,
) -> Result<BTreeMap<TxnId, PendingState>, StoreError> {
    let rows = lock_pendings(conn, ids, lock)?;
    let found: Vec<i64> = rows.iter().map(|r| r.transaction_id).collect();
    let reserved: Vec<PostingRow> = with_conn!(conn, |c| cached_if_short(
        postings::table
            .filter(postings::transaction_id.eq_any(&found))
            .filter(postings::reservation.eq(true))
            .order((postings::transaction_id, postings::seq))
            .select(PostingRow::as_select()),
        found.len()
    )
    .load(c))?;
    let mut by_txn: HashMap<i64, Vec<mkoba_ledger::Posting>> = HashMap::new();
    for row in &reserved {
        by_txn
            .entry(row.transaction_id)
            .or_default()
            .push(row.to_posting()?);
    }
    rows.iter()
        .map(|row| {
            let state = row.to_state(by_txn.remove(&row.transaction_id).unwrap_or_default())?;
            Ok((state.txn_id, state))
        })
        .collect()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = allowances)]
struct AllowanceRow {
    id: i64,
    wallet_account_id: i64,
    merchant_account_id: i64,
    currency: String,
    cap_minor: i64,
    spent_minor: i64,
    per_charge_max_minor: i64,
    expires_at: i64,
    status: String,
}

/// Allowances the batch's charges name, locked like the other rows a batch changes. Only an
/// `active` allowance can be charged; any other status loads as inactive.
fn load_allowances(
    conn: &mut AnyConnection,
    ids: &[i64],
    lock: Lock,
) -> Result<BTreeMap<AllowanceId, AllowanceState>, StoreError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let query = || {
        allowances::table
            .filter(allowances::id.eq_any(ids))
            .order(allowances::id)
    };
    let rows: Vec<AllowanceRow> = load_locked!(conn, lock, query, AllowanceRow, ids.len());
    rows.into_iter()
        .map(|row| {
            let currency = Currency::from_code(&row.currency)
                .ok_or_else(|| StoreError::Corrupt(format!("allowance {} currency", row.id)))?;
            let state = AllowanceState {
                id: AllowanceId(row.id),
                wallet: AccountId(row.wallet_account_id),
                merchant: AccountId(row.merchant_account_id),
                currency,
                cap_minor: row.cap_minor,
                spent_minor: row.spent_minor,
                per_charge_max_minor: row.per_charge_max_minor,
                expires_at: Timestamp(row.expires_at),
                active: row.status == "active",
            };
            Ok((state.id, state))
        })
        .collect()
}

fn load_originals(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<BTreeMap<TxnId, ReversibleTxn>, StoreError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<TransactionRow> = with_conn!(conn, |c| cached_if_short(
        transactions::table
            .filter(transactions::id.eq_any(ids))
            .select(TransactionRow::as_select()),
        ids.len()
    )
    .load(c))?;
    let returned_kinds = [TxnKind::Reversal.as_str(), TxnKind::Refund.as_str()];
    let earlier: Vec<(Option<i64>, String, i64)> = with_conn!(conn, |c| transactions::table
        .filter(transactions::related_id.eq_any(ids))
        .filter(transactions::kind.eq_any(returned_kinds))
        .select((
            transactions::related_id,
            transactions::kind,
            transactions::amount_minor
        ))
        .load(c))?;
    // Refunds return principal too, but only reversals count as reversal attempts.
    let mut reversed: HashMap<i64, (i64, u32)> = HashMap::new();
    for (related, kind, amount) in earlier {
        if let Some(related) = related {
            let tally = reversed.entry(related).or_default();
            tally.0 = tally.0.saturating_add(amount);
            tally.1 = tally
                .1
                .saturating_add(u32::from(kind == TxnKind::Reversal.as_str()));
        }
    }
    rows.iter()
        .map(|row| {
            let receipt = row.to_receipt()?;
            let (reversed_minor, reversal_count) =
                reversed.get(&row.id).copied().unwrap_or_default();
            let txn = ReversibleTxn {
                txn_id: receipt.txn_id,
                kind: receipt.kind,
                phase: receipt.phase,
                currency: receipt.amount.currency(),
                payer: receipt.debit,
                payee: receipt.credit,
                amount_minor: receipt.amount.minor(),
                created_at: receipt.created_at,
                reversed_minor,
                reversal_count,
            };
            Ok((txn.txn_id, txn))
        })
        .collect()
}

fn load_prior_keys(
    conn: &mut AnyConnection,
    keys: &[&str],
) -> Result<HashMap<String, PriorUse>, StoreError> {
    let rows: Vec<TransactionRow> = with_conn!(conn, |c| cached_if_short(
        transactions::table
            .filter(transactions::idempotency_key.eq_any(keys))
            .select(TransactionRow::as_select()),
        keys.len()
    )
    .load(c))?;
    rows.iter()
        .map(|row| {
            Ok((
                row.idempotency_key.clone(),
                PriorUse {
                    fingerprint: row.fingerprint.clone(),
                    receipt: row.to_receipt()?,
                },
            ))
        })
        .collect()
}

/// Whether loading a batch's rows takes PostgreSQL row locks (SQLite's write lock is taken by the
/// transaction itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lock {
    ForUpdate,
    None,
}

/// Loads (and, for a real batch, locks) everything `commands` may read. Accounts found in
/// `cached` (checked against the counter by the caller) are taken from it instead.
fn load_state(
    conn: &mut AnyConnection,
    ctx: &LedgerContext,
    fee_revenue: BTreeMap<Currency, AccountId>,
    commands: &[Command],
    lock: Lock,
    cached: Option<&AccountCache>,
) -> Result<(BatchState, Heads), StoreError> {
    let pending_ids: BTreeSet<i64> = commands
        .iter()
        .filter_map(Command::pending_ref)
        .map(|t| t.0)
        .collect();
    let original_ids: BTreeSet<i64> = commands
        .iter()
        .filter_map(Command::original_ref)
        .map(|t| t.0)
        .collect();
    let pending_ids: Vec<i64> = pending_ids.into_iter().collect();
    let original_ids: Vec<i64> = original_ids.into_iter().collect();
    let allowance_ids: BTreeSet<i64> = commands
        .iter()
        .filter_map(Command::allowance_ref)
        .map(|a| a.0)
        .collect();
    let allowance_ids: Vec<i64> = allowance_ids.into_iter().collect();
    let pendings = load_pendings(conn, &pending_ids, lock)?;
    let allowances = load_allowances(conn, &allowance_ids, lock)?;
    let originals = load_originals(conn, &original_ids)?;

    let mut account_ids: BTreeSet<AccountId> =
        commands.iter().flat_map(Command::named_accounts).collect();
    account_ids.extend(pendings.values().flat_map(|p| [p.debit, p.credit]));
    account_ids.extend(originals.values().flat_map(|o| [o.payer, o.payee]));
    account_ids.extend(allowances.values().flat_map(|a| [a.wallet, a.merchant]));
    account_ids.extend(fee_revenue.values());
    let links = ctx.commission_links(conn, &account_ids)?;
    account_ids.extend(links);
    let mut accounts: BTreeMap<AccountId, AccountState> = BTreeMap::new();
    let mut loaded_heads: Vec<(i64, Option<i64>)> = Vec::with_capacity(account_ids.len());
    let mut missing: Vec<i64> = Vec::with_capacity(account_ids.len());
    for id in &account_ids {
        match cached.and_then(|cache| cache.get(*id)) {
            Some(hit) => {
                accounts.insert(*id, hit.state.clone());
                loaded_heads.push((id.0, hit.head));
            }
            None => missing.push(id.0),
        }
    }
    if !missing.is_empty() {
        for row in lock_accounts(conn, &missing, lock)? {
            let state = row.to_state()?;
            accounts.insert(state.id, state);
            loaded_heads.push((row.id, row.last_transaction_id));
        }
    }
    let heads = Heads::new(loaded_heads);
    let keys: Vec<&str> = commands.iter().map(Command::idempotency_key).collect();
    let prior_keys = load_prior_keys(conn, &keys)?;
    let state = BatchState {
        accounts,
        pendings,
        originals,
        prior_keys,
        allowances,
        fee_revenue,
    };
    Ok((state, heads))
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

/// [`run_batch`] for writer thread `writer`, which credits fees to its own fee revenue shard.
/// `cache`, SQLite only, is the writer's copy of the accounts it loaded before
/// (`store::account_cache`): used where it still holds, and brought up to date on commit.
pub fn run_batch_as(
    conn: &mut AnyConnection,
    ctx: &LedgerContext,
    writer: usize,
    now: Timestamp,
    commands: &[Command],
    notify: &[bool],
    mut cache: Option<&mut AccountCache>,
) -> Result<Vec<Outcome>, StoreError> {
    let batch = BatchInput {
        ctx,
        writer,
        now,
        commands,
        notify,
    };
    let (mut result, copy_used) = attempt(conn, &batch, cache.as_deref_mut());
    if copy_used && matches!(result, Err(StoreError::Conflict(_))) {
        // A conflict while a copy was in use: most likely a conditional write found an account
        // changed behind the ledger's back (a tool editing a balance or a chain head). The copy
        // must never decide an outcome, so the batch runs once more from the database alone,
        // where a real fault (a broken chain) shows as itself.
        tracing::warn!("an account changed under the ledger writer's copy; batch read afresh");
        if let Some(cache) = cache.as_deref_mut() {
            cache.clear();
        }
        result = attempt(conn, &batch, cache.as_deref_mut()).0;
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

/// One database transaction for the batch; also says whether a copy of accounts was in use (the
/// caller then treats a conflict as a possibly stale copy and tries once more without it).
fn attempt(
    conn: &mut AnyConnection,
    input: &BatchInput<'_>,
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
        let (state, mut heads) = load_state(
            conn,
            ctx,
            ctx.fee_revenue_for(input.writer),
            input.commands,
            Lock::ForUpdate,
            copy,
        )?;
        fault(FaultPoint::AfterLoad, conn)?;
        let txn_ids = allocate_ids(conn, input.commands.len())?;
        // The accounts as loaded: each write is conditional on them.
        let before: BTreeMap<AccountId, AccountState> = state.accounts.clone();
        let mut batch = Batch::new(&ctx.rules, &ctx.codes, input.now, state);
        let outcomes: Vec<Outcome> = input
            .commands
            .iter()
            .zip(txn_ids)
            .map(|(command, id)| batch.apply(command, id))
            .collect();
        let writes = batch.finish();
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

fn write(
    conn: &mut AnyConnection,
    writes: &BatchWrites,
    before: &BTreeMap<AccountId, AccountState>,
    heads: &mut Heads,
) -> Result<(), StoreError> {
    let loaded_heads = heads.clone();
    let txn_rows: Vec<TransactionRow> = writes
        .entries
        .iter()
        .map(TransactionRow::from_entry)
        .collect();
    let mut posting_rows: Vec<PostingRow> = writes
        .entries
        .iter()
        .flat_map(PostingRow::rows_for)
        .collect();
    chain::link(&mut posting_rows, heads)?;
    match conn {
        AnyConnection::Postgres(c) => insert_journal_pg(c, &txn_rows, &posting_rows)?,
        AnyConnection::Sqlite(_) => {
            crate::insert_rows!(conn, transactions::table, &txn_rows);
            crate::insert_rows!(conn, postings::table, &posting_rows);
        }
    }
    let pending_rows: Vec<PendingRow> = writes
        .new_pendings
        .iter()
        .map(PendingRow::from_state)
        .collect();
    for chunk in pending_rows.chunks(INSERT_CHUNK_ROWS) {
        with_conn!(&mut *conn, |c| diesel::insert_into(
            pending_transfers::table
        )
        .values(chunk)
        .execute(c))?;
    }
    for (pending, status, by) in &writes.resolved_pendings {
        let updated = with_conn!(&mut *conn, |c| diesel::update(
            pending_transfers::table
                .filter(pending_transfers::transaction_id.eq(pending.0))
                .filter(pending_transfers::status.eq("open"))
        )
        .set((
            pending_transfers::status.eq(status.as_str()),
            pending_transfers::resolved_by.eq(Some(by.0))
        ))
        .execute(c))?;
        if updated != 1 {
            return Err(StoreError::Conflict(format!(
                "pending transfer {} was not open",
                pending.0
            )));
        }
    }
    write_allowances(conn, writes)?;
    write_accounts(conn, &writes.accounts, before, &loaded_heads, heads)?;
    Ok(())
}

/// Allowance spends and their charge rows. The rows are locked; the conditional update (still
/// `active`) is a second guard, as for balances. On PostgreSQL each is one statement with the
/// columns bound as arrays: a micro-payment batch updates one allowance per charge, and a
/// statement per allowance was a round trip per charge.
fn write_allowances(conn: &mut AnyConnection, writes: &BatchWrites) -> Result<(), StoreError> {
    let amounts: HashMap<TxnId, (i64, i64)> = writes
        .entries
        .iter()
        .map(|e| {
            let r = &e.receipt;
            (r.txn_id, (r.amount.minor(), r.created_at.0))
        })
        .collect();
    let mut charges = Vec::with_capacity(writes.charges.len());
    for (allowance, txn) in &writes.charges {
        let (amount, at) = amounts.get(txn).copied().ok_or_else(|| {
            StoreError::Conflict(format!("charge {} has no journal entry", txn.0))
        })?;
        charges.push((txn.0, allowance.0, amount, at));
    }
    if let AnyConnection::Postgres(c) = conn {
        if !writes.allowances.is_empty() {
            let updated = diesel::sql_query(
                "UPDATE allowances AS a SET spent_minor = v.spent \
                 FROM unnest($1::bigint[], $2::bigint[]) AS v(id, spent) \
                 WHERE a.id = v.id AND a.status = 'active'",
            )
            .bind::<Array<BigInt>, _>(writes.allowances.iter().map(|a| a.id.0).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(
                writes
                    .allowances
                    .iter()
                    .map(|a| a.spent_minor)
                    .collect::<Vec<_>>(),
            )
            .execute(c)?;
            if updated != writes.allowances.len() {
                return Err(StoreError::Conflict(format!(
                    "{} of {} allowances changed under the batch",
                    writes.allowances.len().saturating_sub(updated),
                    writes.allowances.len()
                )));
            }
        }
        if !charges.is_empty() {
            let column = |f: fn(&(i64, i64, i64, i64)) -> i64| -> Vec<i64> {
                charges.iter().map(f).collect()
            };
            diesel::sql_query(
                "INSERT INTO allowance_charges (transaction_id, allowance_id, amount_minor, \
                   created_at) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])",
            )
            .bind::<Array<BigInt>, _>(column(|c| c.0))
            .bind::<Array<BigInt>, _>(column(|c| c.1))
            .bind::<Array<BigInt>, _>(column(|c| c.2))
            .bind::<Array<BigInt>, _>(column(|c| c.3))
            .execute(c)?;
        }
        return Ok(());
    }
    for allowance in &writes.allowances {
        let updated = with_conn!(&mut *conn, |c| diesel::update(
            allowances::table
                .filter(allowances::id.eq(allowance.id.0))
                .filter(allowances::status.eq("active"))
        )
        .set(allowances::spent_minor.eq(allowance.spent_minor))
        .execute(c))?;
        if updated != 1 {
            return Err(StoreError::Conflict(format!(
                "allowance {} changed under the batch",
                allowance.id.0
            )));
        }
    }
    let rows: Vec<_> = charges
        .iter()
        .map(|(txn, allowance, amount, at)| {
            (
                allowance_charges::transaction_id.eq(*txn),
                allowance_charges::allowance_id.eq(*allowance),
                allowance_charges::amount_minor.eq(*amount),
                allowance_charges::created_at.eq(*at),
            )
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
        with_conn!(&mut *conn, |c| diesel::insert_into(
            allowance_charges::table
        )
        .values(chunk)
        .execute(c))?;
    }
    Ok(())
}

/// Writes every changed account, each guarded by what the batch read: on PostgreSQL (rows
/// locked, never taken from a copy) the balance; on SQLite the balance and the chain head, since
/// the writer's copy (`store::account_cache`) cannot see a tool changing them behind its back.
fn write_accounts(
    conn: &mut AnyConnection,
    changed: &[AccountState],
    before: &BTreeMap<AccountId, AccountState>,
    loaded_heads: &Heads,
    heads: &Heads,
) -> Result<(), StoreError> {
    // A posting always changes its accounts' balances or reservations, so the heads that moved
    // are written with them; an account whose movements cancelled out within the batch only
    // has its head written, apart.
    let changed_ids: HashSet<i64> = changed.iter().map(|a| a.id.0).collect();
    let heads_only: Vec<i64> = heads
        .moved()
        .filter(|id| !changed_ids.contains(id))
        .collect();
    for id in heads_only {
        let row = accounts::table.find(id);
        let set = accounts::last_transaction_id.eq(heads.head(id));
        let updated = match loaded_heads.head(id) {
            Some(read) => with_conn!(&mut *conn, |c| diesel::update(
                row.filter(accounts::last_transaction_id.eq(read))
            )
            .set(set)
            .execute(c))?,
            None => with_conn!(&mut *conn, |c| diesel::update(
                row.filter(accounts::last_transaction_id.is_null())
            )
            .set(set)
            .execute(c))?,
        };
        if updated != 1 {
            return Err(StoreError::Conflict(format!(
                "account {id}'s chain head changed under the batch"
            )));
        }
    }
    let mut read = Vec::with_capacity(changed.len());
    for account in changed {
        read.push(
            before
                .get(&account.id)
                .ok_or_else(|| StoreError::Conflict("unknown account".into()))?,
        );
    }
    let expected: Vec<i64> = read.iter().map(|a| a.balance_minor).collect();
    if let AnyConnection::Postgres(c) = conn {
        // One statement for the whole batch instead of a round trip per account: the arrays
        // are bound as parameters, so the statement is prepared once per connection.
        let column = |f: fn(&AccountState) -> i64| changed.iter().map(f).collect::<Vec<i64>>();
        let updated = diesel::sql_query(
            "UPDATE accounts AS a SET balance_minor = v.balance, \
               pending_debits_minor = v.pending_debits, pending_credits_minor = v.pending_credits, \
               day_number = v.day_number, day_debits_minor = v.day_debits, \
               last_transaction_id = v.last_transaction_id \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
                         $6::bigint[], $7::bigint[], $8::bigint[]) \
               AS v(id, expected, balance, pending_debits, pending_credits, day_number, day_debits, \
                    last_transaction_id) \
             WHERE a.id = v.id AND a.balance_minor = v.expected",
        )
        .bind::<Array<BigInt>, _>(column(|a| a.id.0))
        .bind::<Array<BigInt>, _>(&expected)
        .bind::<Array<BigInt>, _>(column(|a| a.balance_minor))
        .bind::<Array<BigInt>, _>(column(|a| a.pending_debits_minor))
        .bind::<Array<BigInt>, _>(column(|a| a.pending_credits_minor))
        .bind::<Array<BigInt>, _>(column(|a| a.day_number))
        .bind::<Array<BigInt>, _>(column(|a| a.day_debits_minor))
        .bind::<Array<Nullable<BigInt>>, _>(
            changed.iter().map(|a| heads.head(a.id.0)).collect::<Vec<_>>(),
        )
        .execute(c)?;
        if updated != changed.len() {
            return Err(StoreError::Conflict(format!(
                "{} of {} accounts changed under the batch",
                changed.len().saturating_sub(updated),
                changed.len()
            )));
        }
        return Ok(());
    }
    let AnyConnection::Sqlite(c) = conn else {
        return Err(StoreError::Conflict(
            "no account writer for this backend".into(),
        ));
    };
    for (account, read) in changed.iter().zip(read) {
        let update = AccountUpdate {
            id: account.id.0,
            read_balance: read.balance_minor,
            read_head: loaded_heads.head(account.id.0),
            new: AccountColumns {
                balance: account.balance_minor,
                pending_debits: account.pending_debits_minor,
                pending_credits: account.pending_credits_minor,
                day_number: account.day_number,
                day_debits: account.day_debits_minor,
                last_transaction_id: heads.head(account.id.0),
            },
        };
        if update.execute(c)? != 1 {
            return Err(StoreError::Conflict(format!(
                "account {} changed under the batch",
                account.id.0
            )));
        }
    }
    Ok(())
}

/// The journal rows of a batch on PostgreSQL: one statement per table whatever the batch size,
/// with every column bound as an array and unnested, so the statement is prepared once per
/// connection instead of parsed and planned for each new row count.
fn insert_journal_pg(
    c: &mut diesel::PgConnection,
    txns: &[TransactionRow],
    postings: &[PostingRow],
) -> Result<(), StoreError> {
    use diesel::sql_types::{Bool, SmallInt, Text};
    if !txns.is_empty() {
        let text = |f: fn(&TransactionRow) -> &str| -> Vec<&str> { txns.iter().map(f).collect() };
        let int = |f: fn(&TransactionRow) -> i64| -> Vec<i64> { txns.iter().map(f).collect() };
        let opt = |f: fn(&TransactionRow) -> Option<i64>| -> Vec<Option<i64>> {
            txns.iter().map(f).collect()
        };
        diesel::sql_query(
            "INSERT INTO transactions (id, code, idempotency_key, fingerprint, kind, phase, \
               currency, amount_minor, fee_minor, commission_minor, debit_account_id, \
               credit_account_id, related_id, expires_at, memo, metadata, created_at) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
               $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], \
               $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::bigint[])",
        )
        .bind::<Array<BigInt>, _>(int(|t| t.id))
        .bind::<Array<Text>, _>(text(|t| &t.code))
        .bind::<Array<Text>, _>(text(|t| &t.idempotency_key))
        .bind::<Array<Text>, _>(text(|t| &t.fingerprint))
        .bind::<Array<Text>, _>(text(|t| &t.kind))
        .bind::<Array<Text>, _>(text(|t| &t.phase))
        .bind::<Array<Text>, _>(text(|t| &t.currency))
        .bind::<Array<BigInt>, _>(int(|t| t.amount_minor))
        .bind::<Array<BigInt>, _>(int(|t| t.fee_minor))
        .bind::<Array<BigInt>, _>(int(|t| t.commission_minor))
        .bind::<Array<BigInt>, _>(int(|t| t.debit_account_id))
        .bind::<Array<BigInt>, _>(int(|t| t.credit_account_id))
        .bind::<Array<Nullable<BigInt>>, _>(opt(|t| t.related_id))
        .bind::<Array<Nullable<BigInt>>, _>(opt(|t| t.expires_at))
        .bind::<Array<Text>, _>(text(|t| &t.memo))
        .bind::<Array<Text>, _>(text(|t| &t.metadata))
        .bind::<Array<BigInt>, _>(int(|t| t.created_at))
        .execute(c)?;
    }
    if !postings.is_empty() {
        let int = |f: fn(&PostingRow) -> i64| -> Vec<i64> { postings.iter().map(f).collect() };
        diesel::sql_query(
            "INSERT INTO postings (transaction_id, seq, leg, debit_account_id, \
               credit_account_id, amount_minor, reservation, debit_prev_txn, credit_prev_txn) \
             SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::bigint[], \
               $5::bigint[], $6::bigint[], $7::boolean[], $8::bigint[], $9::bigint[])",
        )
        .bind::<Array<BigInt>, _>(int(|p| p.transaction_id))
        .bind::<Array<SmallInt>, _>(postings.iter().map(|p| p.seq).collect::<Vec<i16>>())
        .bind::<Array<Text>, _>(
            postings
                .iter()
                .map(|p| p.leg.as_str())
                .collect::<Vec<&str>>(),
        )
        .bind::<Array<BigInt>, _>(int(|p| p.debit_account_id))
        .bind::<Array<BigInt>, _>(int(|p| p.credit_account_id))
        .bind::<Array<BigInt>, _>(int(|p| p.amount_minor))
        .bind::<Array<Bool>, _>(
            postings
                .iter()
                .map(|p| p.reservation)
                .collect::<Vec<bool>>(),
        )
        .bind::<Array<Nullable<BigInt>>, _>(
            postings
                .iter()
                .map(|p| p.debit_prev_txn)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<BigInt>>, _>(
            postings
                .iter()
                .map(|p| p.credit_prev_txn)
                .collect::<Vec<_>>(),
        )
        .execute(c)?;
    }
    Ok(())
}
