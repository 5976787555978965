//! Writing what a finished batch returns: journal rows, pending transfers, allowance spends
//! and accounts, every update conditional on what the batch read.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable};
use mkoba_ledger::{AccountId, AccountState, BatchWrites, TxnId};

use crate::store::bulk::{AccountColumns, AccountUpdate};
use crate::store::chain::{self, Heads};
use crate::store::db::AnyConnection;
use crate::store::insert_or_fail::{self, ChargeRow};
use crate::store::rows::{PendingRow, PostingRow, TransactionRow};
use crate::store::schema::{accounts, allowances, pending_transfers};
use crate::store::StoreError;
use crate::with_conn;

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bind limits.
const INSERT_CHUNK_ROWS: usize = 1_000;

pub(super) fn write(
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
        AnyConnection::Sqlite(c) => {
            insert_or_fail::insert(c, &txn_rows)?;
            insert_or_fail::insert(c, &posting_rows)?;
        }
    }
    let pending_rows: Vec<PendingRow> = writes
        .new_pendings
        .iter()
        .map(PendingRow::from_state)
        .collect();
    match conn {
        AnyConnection::Sqlite(c) => insert_or_fail::insert(c, &pending_rows)?,
        AnyConnection::Postgres(c) => {
            for chunk in pending_rows.chunks(INSERT_CHUNK_ROWS) {
                diesel::insert_into(pending_transfers::table)
                    .values(chunk)
                    .execute(c)?;
            }
        }
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
    let rows: Vec<ChargeRow> = charges
        .iter()
        .map(
            |&(transaction_id, allowance_id, amount_minor, created_at)| ChargeRow {
                transaction_id,
                allowance_id,
                amount_minor,
                created_at,
            },
        )
        .collect();
    match conn {
        AnyConnection::Sqlite(c) => insert_or_fail::insert(c, &rows),
        AnyConnection::Postgres(_) => Err(StoreError::Conflict(
            "no allowance charge writer for this backend".into(),
        )),
    }
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
