//! Loading what a batch reads: its accounts (from the writer's copy where it holds), pending
//! transfers, allowances, the originals of reversals and refunds, and earlier uses of its
//! idempotency keys, in the lock order `super` describes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use mkoba_ledger::{
    AccountId, AccountState, AllowanceId, AllowanceState, BatchState, Command, Currency,
    PendingState, ReversibleTxn, Timestamp, TxnId, TxnKind,
};

use super::keys::{load_prior_keys, PriorKeys};
use super::LedgerContext;
use crate::store::account_cache::AccountCache;
use crate::store::cached::cached_if_short;
use crate::store::chain::Heads;
use crate::store::db::AnyConnection;
use crate::store::rows::{AccountRow, PendingRow, PostingRow, TransactionRow};
use crate::store::schema::{accounts, allowances, pending_transfers, postings, transactions};
use crate::store::StoreError;
use crate::with_conn;

#[derive(QueryableByName)]
struct NextId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Transaction ids for `count` commands: from a sequence on PostgreSQL (several processes may
/// write at once); after the largest id on SQLite, whose write lock this transaction holds.
pub(super) fn allocate_ids(
    conn: &mut AnyConnection,
    count: usize,
) -> Result<Vec<TxnId>, StoreError> {
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

/// Whether loading a batch's rows takes PostgreSQL row locks (SQLite's write lock is taken by the
/// transaction itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lock {
    ForUpdate,
    None,
}

/// Loads (and, for a real batch, locks) everything `commands` may read. Accounts found in
/// `cached` (checked against the counter by the caller) are taken from it instead; earlier uses
/// of the commands' keys only if `keys` says so (`keys`).
pub(super) fn load_state(
    conn: &mut AnyConnection,
    ctx: &LedgerContext,
    fee_revenue: BTreeMap<Currency, AccountId>,
    commands: &[Command],
    lock: Lock,
    cached: Option<&AccountCache>,
    keys: PriorKeys,
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
    let prior_keys = match keys {
        PriorKeys::LookUpFirst => {
            let keys: Vec<&str> = commands.iter().map(Command::idempotency_key).collect();
            load_prior_keys(conn, &keys)?
        }
        PriorKeys::AssumeNew => HashMap::new(),
    };
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
