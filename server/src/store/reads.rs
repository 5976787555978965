//! Reads for APIs, receipts and statements. None of these lock or write.

use diesel::prelude::*;
use mkoba_ledger::{AccountState, Receipt};
use serde::Serialize;

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
/// pagination: stable under concurrent inserts, cheap at any depth).
pub fn statement(
    conn: &mut AnyConnection,
    account_id: i64,
    before_txn: Option<i64>,
    limit: i64,
) -> Result<Vec<StatementLine>, StoreError> {
    let before = before_txn.unwrap_or(i64::MAX);
    let mut lines = Vec::new();
    for outgoing in [true, false] {
        macro_rules! side_query {
            ($side:expr) => {
                with_conn!(&mut *conn, |c| postings::table
                    .inner_join(transactions::table)
                    .filter($side.eq(account_id))
                    .filter(postings::reservation.eq(false))
                    .filter(postings::transaction_id.lt(before))
                    .order((postings::transaction_id.desc(), postings::seq.desc()))
                    .limit(limit)
                    .select((PostingRow::as_select(), TransactionRow::as_select()))
                    .load(c))
            };
        }
        let rows: Vec<(PostingRow, TransactionRow)> = if outgoing {
            side_query!(postings::debit_account_id)?
        } else {
            side_query!(postings::credit_account_id)?
        };
        for (p, t) in rows {
            let (counterparty, amount) = if outgoing {
                (p.credit_account_id, -p.amount_minor)
            } else {
                (p.debit_account_id, p.amount_minor)
            };
            lines.push(StatementLine {
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
            });
        }
    }
    lines.sort_by_key(|l| std::cmp::Reverse(l.transaction_id));
    lines.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(lines)
}

/// The receipt of a stored transaction, for API answers after a read.
pub fn receipt(conn: &mut AnyConnection, id: i64) -> Result<Option<Receipt>, StoreError> {
    transaction_by_id(conn, id)?
        .map(|row| row.to_receipt())
        .transpose()
}
