//! Reads for APIs, receipts and statements. None of these lock or write.

use diesel::prelude::*;
use mkoba_ledger::{AccountState, Receipt};
use serde::Serialize;

use crate::store::chain;
use crate::store::db::AnyConnection;
use crate::store::rows::{AccountRow, PostingRow, TransactionRow};
use crate::store::schema::{accounts, postings, transactions};
use crate::store::StoreError;
use crate::with_conn;

pub fn account(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(AccountRow, AccountState)>, StoreError> {
    let row: Option<AccountRow> = with_conn!(conn, |c| accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .get_result(c)
        .optional())?;
    row.map(|r| r.to_state().map(|s| (r, s))).transpose()
}

pub fn transaction_by_id(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<TransactionRow>, StoreError> {
    Ok(with_conn!(conn, |c| transactions::table
        .find(id)
        .select(TransactionRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn transaction_by_key(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<TransactionRow>, StoreError> {
    Ok(with_conn!(conn, |c| transactions::table
        .filter(transactions::idempotency_key.eq(key))
        .select(TransactionRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn postings_of(conn: &mut AnyConnection, txn_id: i64) -> Result<Vec<PostingRow>, StoreError> {
    Ok(with_conn!(conn, |c| postings::table
        .filter(postings::transaction_id.eq(txn_id))
        .order(postings::seq)
        .select(PostingRow::as_select())
        .load(c))?)
}

/// One line of an account statement: a posting on the account, signed from its point of view.
#[derive(Clone, Debug, Serialize)]
pub struct StatementLine {
    pub transaction_id: i64,
    pub code: String,
    pub kind: String,
    pub phase: String,
    pub leg: String,
    pub counterparty_account_id: i64,
    /// Positive when money came in, negative when it went out.
    pub amount_minor: i64,
    pub currency: String,
    pub memo: String,
    pub created_at: i64,
}

/// The newest posted movements on `account_id`, older than `before_txn` if given (keyset
/// pagination: stable under concurrent inserts). Read along the account's chain
/// (`store::chain`), so a page costs the same at any depth of the journal.
pub fn statement(
    conn: &mut AnyConnection,
    account_id: i64,
    before_txn: Option<i64>,
    limit: i64,
) -> Result<Vec<StatementLine>, StoreError> {
    let wanted = usize::try_from(limit).unwrap_or(0);
    let mut lines = Vec::new();
    if wanted == 0 {
        return Ok(lines);
    }
    let start = chain::start_below(conn, account_id, before_txn)?;
    // Reservations are not statement lines, so a round may give fewer lines than transactions.
    let budget = limit.saturating_add(chain::SEEK_STEPS_MAX);
    chain::each_round(
        conn,
        account_id,
        start,
        None,
        limit,
        budget,
        |conn, walked| {
            let ids: Vec<i64> = walked.iter().map(|t| t.id).collect();
            lines.extend(lines_of(conn, account_id, &ids)?);
            Ok(lines.len() < wanted)
        },
    )?;
    lines.truncate(wanted);
    Ok(lines)
}

/// The posted (not reserved) postings of transactions `ids` on `account_id`, with their
/// transactions, in no particular order.
pub fn posted_on(
    conn: &mut AnyConnection,
    account_id: i64,
    ids: &[i64],
) -> Result<Vec<(PostingRow, TransactionRow)>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| postings::table
        .inner_join(transactions::table)
        .filter(postings::transaction_id.eq_any(ids))
        .filter(
            postings::debit_account_id
                .eq(account_id)
                .or(postings::credit_account_id.eq(account_id)),
        )
        .filter(postings::reservation.eq(false))
        .select((PostingRow::as_select(), TransactionRow::as_select()))
        .load(c))?)
}

/// Newest transaction first, money out before money in, last leg first.
type LineOrder = (std::cmp::Reverse<i64>, bool, std::cmp::Reverse<i16>);

/// The posted lines of transactions `ids` on `account_id`, newest first: per transaction the
/// money going out, then the money coming in, each by leg, last leg first.
fn lines_of(
    conn: &mut AnyConnection,
    account_id: i64,
    ids: &[i64],
) -> Result<Vec<StatementLine>, StoreError> {
    let rows = posted_on(conn, account_id, ids)?;
    let mut keyed: Vec<(LineOrder, StatementLine)> = Vec::with_capacity(rows.len());
    for (p, t) in rows {
        let outgoing = p.debit_account_id == account_id;
        let (counterparty, amount) = if outgoing {
            (p.credit_account_id, -p.amount_minor)
        } else {
            (p.debit_account_id, p.amount_minor)
        };
        let key = (std::cmp::Reverse(t.id), !outgoing, std::cmp::Reverse(p.seq));
        keyed.push((
            key,
            StatementLine {
                transaction_id: t.id,
                code: t.code,
                kind: t.kind,
                phase: t.phase,
                leg: p.leg,
                counterparty_account_id: counterparty,
                amount_minor: amount,
                currency: t.currency,
                memo: t.memo,
                created_at: t.created_at,
            },
        ));
    }
    keyed.sort_by_key(|(order, _)| *order);
    Ok(keyed.into_iter().map(|(_, line)| line).collect())
}

/// Commission and other money credited to `account` since `since` (microseconds), read along
/// its chain; at most [`chain::WALK_STEPS_MAX`] transactions back.
pub fn credited_since(
    conn: &mut AnyConnection,
    account: i64,
    since: i64,
) -> Result<i64, StoreError> {
    let start = chain::head(conn, account)?;
    let mut total = 0_i64;
    chain::each_round(
        conn,
        account,
        start,
        Some(since),
        64,
        chain::WALK_STEPS_MAX,
        |conn, walked| {
            let ids: Vec<i64> = walked
                .iter()
                .filter(|t| t.created_at >= since)
                .map(|t| t.id)
                .collect();
            let amounts: Vec<i64> = with_conn!(&mut *conn, |c| postings::table
                .filter(postings::transaction_id.eq_any(&ids))
                .filter(postings::credit_account_id.eq(account))
                .filter(postings::reservation.eq(false))
                .select(postings::amount_minor)
                .load::<i64>(c))?;
            total = amounts.iter().fold(total, |a, b| a.saturating_add(*b));
            Ok(true)
        },
    )?;
    Ok(total)
}

/// The receipt of a stored transaction, for API answers after a read.
pub fn receipt(conn: &mut AnyConnection, id: i64) -> Result<Option<Receipt>, StoreError> {
    transaction_by_id(conn, id)?
        .map(|row| row.to_receipt())
        .transpose()
}
