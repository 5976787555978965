//! Confirmations waiting to become messages.
//!
//! The ledger writer is the one thread every payment waits for. Looking up a batch's parties
//! and appending two messages per transfer was over a quarter of its time (mkoba-bench,
//! SQLite). So inside the batch's own database transaction it now appends one small row per
//! confirmed transaction ([`queue`]), and the SMS dispatcher expands those rows into messages
//! in a transaction of its own before it claims messages to send ([`expand`]).
//!
//! - A committed payment always has its row; a rolled-back one never does.
//! - A row becomes its messages exactly once: they are inserted and the row deleted in one
//!   transaction. On PostgreSQL the rows are taken `FOR UPDATE SKIP LOCKED`, so two
//!   dispatchers never expand the same one; on SQLite the write lock serialises them.
//! - The messages are the ones the writer would have written. Their times are the
//!   transaction's, and `sides` keeps what the journal does not: the balances the transaction
//!   left on its two accounts, which the texts quote. The parties (number, name, language) are
//!   read when the row is expanded, normally within one dispatcher round of the payment.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use mkoba_ledger::{AccountId, AccountKind, AccountSnapshot, JournalEntry, Phase};

use crate::sms::notify::{insert_outbox, load_parties, rows_for, NotifyConfig};
use crate::store::db::{write_transaction, AnyConnection};
use crate::store::rows::{decode, TransactionRow};
use crate::store::schema::{accounts, sms_confirmations_due, transactions};
use crate::store::StoreError;
use crate::with_conn;

/// Longest `sides` text the table accepts: two accounts of three 20-digit numbers. (SQLite's
/// table leaves the check to its writer: `store::insert_or_fail`.)
pub const SIDES_LEN_MAX: usize = 200;
/// Shortest `sides` text the table accepts (`[]`).
pub const SIDES_LEN_MIN: usize = 2;

#[derive(Clone, Debug, Insertable, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = sms_confirmations_due, treat_none_as_default_value = false)]
pub struct DueRow {
    pub transaction_id: i64,
    pub sides: String,
}

/// One account as a transaction left it: (balance, available, daily remaining).
type Side = (i64, i64, Option<i64>);

fn side(snapshot: Option<&AccountSnapshot>) -> Option<Side> {
    snapshot.map(|s| (s.balance_minor, s.available_minor, s.daily_remaining_minor))
}

fn snapshot(account: AccountId, side: Option<Side>) -> Option<AccountSnapshot> {
    side.map(
        |(balance_minor, available_minor, daily_remaining_minor)| AccountSnapshot {
            account,
            balance_minor,
            available_minor,
            daily_remaining_minor,
        },
    )
}

/// `entry`'s debit and credit accounts as it left them, as stored in `sides`.
pub fn encode_sides(entry: &JournalEntry) -> String {
    let r = &entry.receipt;
    let find = |id: AccountId| side(entry.after.iter().find(|s| s.account == id));
    let sides: [Option<Side>; 2] = [find(r.debit), find(r.credit)];
    // Serialising integers and options cannot fail; an empty text would fail the CHECK loudly.
    serde_json::to_string(&sides).unwrap_or_default()
}

/// The two snapshots `sides` holds for a transaction from `debit` to `credit`.
pub fn decode_sides(
    sides: &str,
    debit: AccountId,
    credit: AccountId,
) -> Result<(Option<AccountSnapshot>, Option<AccountSnapshot>), serde_json::Error> {
    let [d, c]: [Option<Side>; 2] = serde_json::from_str(sides)?;
    Ok((snapshot(debit, d), snapshot(credit, c)))
}

/// Appends a row for each of `entries` that moved money (a hold confirms nothing until it is
/// posted). Runs in the ledger batch's transaction. Returns how many rows it appended.
pub fn queue(conn: &mut AnyConnection, entries: &[&JournalEntry]) -> Result<usize, StoreError> {
    let rows: Vec<DueRow> = entries
        .iter()
        .filter(|e| matches!(e.receipt.phase, Phase::Posted | Phase::PostPending))
        .map(|e| DueRow {
            transaction_id: e.receipt.txn_id.0,
            sides: encode_sides(e),
        })
        .collect();
    if let Some(long) = rows.iter().find(|r| r.sides.len() > SIDES_LEN_MAX) {
        return Err(StoreError::Conflict(format!(
            "confirmation of transaction {} has {} characters of balances",
            long.transaction_id,
            long.sides.len()
        )));
    }
    match conn {
        AnyConnection::Postgres(c) if !rows.is_empty() => {
            // One statement whatever the batch size, prepared once per connection.
            let inserted = diesel::sql_query(
                "INSERT INTO sms_confirmations_due (transaction_id, sides) \
                 SELECT * FROM unnest($1::bigint[], $2::text[])",
            )
            .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.transaction_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(rows.iter().map(|r| r.sides.as_str()).collect::<Vec<_>>())
            .execute(c)?;
            if inserted != rows.len() {
                return Err(StoreError::Conflict(format!(
                    "{inserted} of {} confirmations queued",
                    rows.len()
                )));
            }
        }
        AnyConnection::Postgres(_) => {}
        AnyConnection::Sqlite(c) => crate::store::insert_or_fail::insert(c, &rows)?,
    }
    Ok(rows.len())
}

/// What one [`expand`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Confirmations turned into messages (and deleted).
    pub confirmations: usize,
    /// Messages those became (a party with no phone gets none).
    pub messages: usize,
    /// Rows left where they are because they cannot be read (logged; never expected).
    pub unreadable: usize,
}

/// Turns up to `limit` waiting confirmations, oldest first, into outbox messages, in one
/// transaction of its own.
pub fn expand(
    conn: &mut AnyConnection,
    cfg: &NotifyConfig,
    limit: usize,
) -> Result<Expanded, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // A look first, outside any transaction: an idle dispatcher polls, and on SQLite a write
    // transaction takes the database's one write lock even when it finds nothing.
    let any: Option<i64> = with_conn!(&mut *conn, |c| sms_confirmations_due::table
        .select(sms_confirmations_due::transaction_id)
        .first(c)
        .optional())?;
    if any.is_none() {
        return Ok(Expanded::default());
    }
    write_transaction(conn, |conn| {
        let due: Vec<DueRow> = match &mut *conn {
            AnyConnection::Postgres(c) => diesel::sql_query(
                "SELECT transaction_id, sides FROM sms_confirmations_due \
                 ORDER BY transaction_id LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            .bind::<BigInt, _>(limit)
            .load(c)?,
            AnyConnection::Sqlite(c) => sms_confirmations_due::table
                .order(sms_confirmations_due::transaction_id)
                .limit(limit)
                .select(DueRow::as_select())
                .load(c)?,
        };
        if due.is_empty() {
            return Ok(Expanded::default());
        }
        let ids: Vec<i64> = due.iter().map(|d| d.transaction_id).collect();
        let journal: HashMap<i64, TransactionRow> =
            with_conn!(&mut *conn, |c| transactions::table
                .filter(transactions::id.eq_any(&ids))
                .select(TransactionRow::as_select())
                .load(c))?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let account_ids: BTreeSet<i64> = journal
            .values()
            .flat_map(|t| [t.debit_account_id, t.credit_account_id])
            .collect();
        let account_ids: Vec<i64> = account_ids.into_iter().collect();
        let kinds = account_kinds(conn, &account_ids)?;
        let parties = load_parties(conn, &account_ids, &kinds, cfg.default_language)?;
        let mut done = Expanded::default();
        let mut expanded: Vec<i64> = Vec::with_capacity(due.len());
        let mut messages = Vec::with_capacity(due.len().saturating_mul(2));
        for row in &due {
            let readable = journal
                .get(&row.transaction_id)
                .ok_or_else(|| "no journal entry".to_owned())
                .and_then(|t| t.to_receipt().map_err(|e| e.to_string()))
                .and_then(|receipt| {
                    decode_sides(&row.sides, receipt.debit, receipt.credit)
                        .map(|sides| (receipt, sides))
                        .map_err(|e| format!("unreadable balances: {e}"))
                });
            match readable {
                Ok((receipt, (debit_after, credit_after))) => {
                    messages.extend(rows_for(&receipt, debit_after, credit_after, &parties, cfg));
                    expanded.push(row.transaction_id);
                }
                Err(reason) => {
                    // Left in place for someone to look at; the rest are expanded.
                    tracing::error!(
                        transaction = row.transaction_id,
                        %reason,
                        "a waiting confirmation cannot be expanded"
                    );
                    done.unreadable += 1;
                }
            }
        }
        insert_outbox(conn, &messages)?;
        let deleted = with_conn!(&mut *conn, |c| diesel::delete(
            sms_confirmations_due::table
                .filter(sms_confirmations_due::transaction_id.eq_any(&expanded))
        )
        .execute(c))?;
        if deleted != expanded.len() {
            return Err(StoreError::Conflict(format!(
                "{deleted} of {} expanded confirmations deleted",
                expanded.len()
            )));
        }
        done.confirmations = expanded.len();
        done.messages = messages.len();
        Ok(done)
    })
}

/// Expands until nothing is left (or only unreadable rows are): for the development inbox, the
/// admin CLI and tests, which want a payment's messages the moment it has committed.
pub fn expand_all(conn: &mut AnyConnection, cfg: &NotifyConfig) -> Result<Expanded, StoreError> {
    /// Confirmations per transaction: big enough to be quick, small enough to hold the write
    /// lock briefly.
    const STEP: usize = 1_000;
    let mut total = Expanded::default();
    loop {
        let step = expand(conn, cfg, STEP)?;
        total.confirmations += step.confirmations;
        total.messages += step.messages;
        total.unreadable = step.unreadable;
        if step.confirmations == 0 {
            return Ok(total);
        }
    }
}

/// How many confirmations are waiting.
pub fn waiting(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(with_conn!(conn, |c| sms_confirmations_due::table
        .count()
        .get_result(c))?)
}

fn account_kinds(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<HashMap<AccountId, AccountKind>, StoreError> {
    let rows: Vec<(i64, String)> = with_conn!(conn, |c| accounts::table
        .filter(accounts::id.eq_any(ids))
        .select((accounts::id, accounts::kind))
        .load(c))?;
    rows.into_iter()
        .map(|(id, kind)| {
            Ok((
                AccountId(id),
                decode(AccountKind::parse(&kind), "account kind", &kind)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mkoba_ledger::{Currency, Money, Receipt, Timestamp, TxnId, TxnKind};

    fn entry(after: Vec<AccountSnapshot>) -> JournalEntry {
        JournalEntry {
            receipt: Receipt {
                txn_id: TxnId(7),
                code: "ABC123".into(),
                kind: TxnKind::Transfer,
                phase: Phase::Posted,
                amount: Money::from_minor(100, Currency::KES),
                fee_minor: 0,
                commission_minor: 0,
                debit: AccountId(1),
                credit: AccountId(2),
                related: None,
                created_at: Timestamp(0),
                expires_at: None,
            },
            idempotency_key: "k".into(),
            fingerprint: "f".into(),
            memo: String::new(),
            metadata: String::new(),
            postings: Vec::new(),
            reservations: Vec::new(),
            after,
        }
    }

    #[test]
    fn sides_keep_each_principal_account_as_the_entry_left_it() {
        let debit = AccountSnapshot {
            account: AccountId(1),
            balance_minor: i64::MAX,
            available_minor: i64::MIN,
            daily_remaining_minor: Some(i64::MAX),
        };
        let fee = AccountSnapshot {
            account: AccountId(3),
            balance_minor: 5,
            available_minor: 5,
            daily_remaining_minor: None,
        };
        // The fee account is not quoted; the credit account was not in `after`.
        let text = encode_sides(&entry(vec![fee, debit]));
        assert!(text.len() <= SIDES_LEN_MAX, "{text}");
        let (d, c) = decode_sides(&text, AccountId(1), AccountId(2)).expect("readable");
        assert_eq!(d, Some(debit));
        assert_eq!(c, None);
        // The widest a side can be still fits the column.
        let widest = AccountSnapshot {
            account: AccountId(2),
            balance_minor: i64::MIN,
            available_minor: i64::MIN,
            daily_remaining_minor: Some(i64::MIN),
        };
        let text = encode_sides(&entry(vec![
            AccountSnapshot {
                account: AccountId(1),
                ..widest
            },
            widest,
        ]));
        assert!(
            text.len() <= SIDES_LEN_MAX,
            "{} > {SIDES_LEN_MAX}",
            text.len()
        );
        assert_eq!(
            decode_sides(&text, AccountId(1), AccountId(2)).expect("readable"),
            (
                Some(AccountSnapshot {
                    account: AccountId(1),
                    ..widest
                }),
                Some(widest)
            )
        );
    }

    #[test]
    fn unreadable_sides_are_an_error_not_zero_balances() {
        for bad in [
            "",
            "[]",
            "[1,2]",
            "[[1,2],null]",
            "{\"a\":1}",
            "[null,null,null]",
        ] {
            assert!(
                decode_sides(bad, AccountId(1), AccountId(2)).is_err(),
                "{bad:?} should not read"
            );
        }
        assert_eq!(
            decode_sides("[null,null]", AccountId(1), AccountId(2)).expect("readable"),
            (None, None)
        );
    }
}
