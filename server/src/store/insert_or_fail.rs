//! The SQLite ledger writer's multi-row inserts, as `INSERT OR FAIL`, so that SQLite keeps no
//! statement journal for them.
//!
//! Why: before a statement that writes several rows and *may abort* changes a page that existed
//! when it began, SQLite copies that page to a statement journal, so that an abort can undo the
//! statement alone and leave the transaction's earlier work. A multi-row `INSERT` may abort if a
//! constraint of the table fails with the default `ABORT` resolution (every `NOT NULL`, `UNIQUE`
//! and `CHECK`), or if the statement calls any SQL function (a `CHECK (length(memo) <= 512)` does).
//! A ledger batch never needs that undo: any error rolls its whole transaction back
//! (`store::batch`). Measured on `mkoba-bench ledger` (SQLite, 1,024 clients, 100k history):
//! 19.2–19.6 against 20.7–21.9 writer µs per transfer, most of it the copies of the idempotency
//! key index's pages (ops/BENCHMARKS.md, session 19).
//!
//! So the writer's inserts say `OR FAIL` (a failing row stops the statement without undoing the
//! rows before it, and the batch's transaction is rolled back as before), and the SQLite tables
//! they write call no function in their CHECKs (migration 000019). The length limits those CHECKs
//! held are checked here, on the way in ([`WriterRow::check`]), with the same answer SQLite gave:
//! a `CheckViolation` and nothing written. PostgreSQL keeps its CHECKs and its own statements.
//! `tests::writer_inserts_need_no_statement_journal` asks SQLite's own compiler, per table.

use std::marker::PhantomData;

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool, Nullable, SmallInt, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl, SqliteConnection};
use mkoba_ledger::code::CODE_LEN;
use mkoba_ledger::rules::bounds::{IDEMPOTENCY_KEY_LEN_MAX, MEMO_LEN_MAX, METADATA_LEN_MAX};

use crate::sms::due::{DueRow, SIDES_LEN_MAX, SIDES_LEN_MIN};
use crate::store::rows::{PendingRow, PostingRow, TransactionRow};
use crate::store::StoreError;

/// Pushes each value as a bind of its SQL type, separated by `, `: one row's `VALUES` group.
macro_rules! push_binds {
    ($out:expr; $first_type:ty => $first:expr $(, $sql_type:ty => $value:expr)* $(,)?) => {{
        $out.push_bind_param::<$first_type, _>($first)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<$sql_type, _>($value)?;
        )*
        Ok(())
    }};
}

/// A row the SQLite ledger writer appends with [`insert`].
pub trait WriterRow: 'static {
    /// `table (column, …)` as the statement names them.
    const INTO: &'static str;
    /// This row's values as binds, in [`WriterRow::INTO`]'s column order, separated by `, `.
    fn push_values<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()>;
    /// The limits SQLite's table no longer checks itself; `Err` says which one this row breaks.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Appends `rows` with `INSERT OR FAIL`, 64 rows per statement while they last and then halving
/// chunks (32, …, 1): seven statements per table, each kept prepared (a chunk's type identifies
/// its statement, so diesel finds it without building the SQL again).
pub fn insert<R: WriterRow>(c: &mut SqliteConnection, rows: &[R]) -> Result<(), StoreError> {
    if let Some(broken) = rows.iter().find_map(|r| r.check().err()) {
        return Err(check_violation(broken));
    }
    let mut rest = rows;
    rest = insert_chunks::<R, 64>(c, rest)?;
    rest = insert_chunks::<R, 32>(c, rest)?;
    rest = insert_chunks::<R, 16>(c, rest)?;
    rest = insert_chunks::<R, 8>(c, rest)?;
    rest = insert_chunks::<R, 4>(c, rest)?;
    rest = insert_chunks::<R, 2>(c, rest)?;
    rest = insert_chunks::<R, 1>(c, rest)?;
    if !rest.is_empty() {
        return Err(StoreError::Conflict(format!(
            "{} of {} rows left uninserted",
            rest.len(),
            rows.len()
        )));
    }
    Ok(())
}

fn insert_chunks<'r, R: WriterRow, const N: usize>(
    c: &mut SqliteConnection,
    mut rest: &'r [R],
) -> Result<&'r [R], StoreError> {
    while let Some((chunk, tail)) = rest.split_first_chunk::<N>() {
        let inserted = InsertOrFail(chunk).execute(c)?;
        if inserted != N {
            return Err(StoreError::Conflict(format!(
                "{inserted} of {N} rows inserted"
            )));
        }
        rest = tail;
    }
    Ok(rest)
}

/// What SQLite answered when its own CHECK refused a row.
fn check_violation(message: String) -> StoreError {
    StoreError::Query(DieselError::DatabaseError(
        DatabaseErrorKind::CheckViolation,
        Box::new(message),
    ))
}

/// `INSERT OR FAIL INTO table (…) VALUES (…), …` for exactly `N` rows.
struct InsertOrFail<'a, R, const N: usize>(&'a [R; N]);

/// The statement's cache key: its table and row count.
struct InsertOrFailId<R, const N: usize>(PhantomData<R>);

impl<R: WriterRow, const N: usize> QueryId for InsertOrFail<'_, R, N> {
    type QueryId = InsertOrFailId<R, N>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<R: WriterRow, const N: usize> QueryFragment<Sqlite> for InsertOrFail<'_, R, N> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("INSERT OR FAIL INTO ");
        out.push_sql(R::INTO);
        out.push_sql(" VALUES ");
        for (i, row) in self.0.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            row.push_values(&mut out)?;
            out.push_sql(")");
        }
        Ok(())
    }
}

impl<R, const N: usize> RunQueryDsl<SqliteConnection> for InsertOrFail<'_, R, N> {}

/// `name`'s length in characters (as SQLite's `length` counts text) is within `min..=max`.
fn length_within(name: &str, value: &str, min: usize, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(format!("{name} is {n} characters, not {min} to {max}"))
    }
}

impl WriterRow for TransactionRow {
    const INTO: &'static str = "transactions (id, code, idempotency_key, fingerprint, kind, \
        phase, currency, amount_minor, fee_minor, commission_minor, debit_account_id, \
        credit_account_id, related_id, expires_at, memo, metadata, created_at)";

    fn push_values<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        push_binds!(
            out;
            BigInt => &self.id,
            Text => &self.code,
            Text => &self.idempotency_key,
            Text => &self.fingerprint,
            Text => &self.kind,
            Text => &self.phase,
            Text => &self.currency,
            BigInt => &self.amount_minor,
            BigInt => &self.fee_minor,
            BigInt => &self.commission_minor,
            BigInt => &self.debit_account_id,
            BigInt => &self.credit_account_id,
            Nullable<BigInt> => &self.related_id,
            Nullable<BigInt> => &self.expires_at,
            Text => &self.memo,
            Text => &self.metadata,
            BigInt => &self.created_at
        )
    }

    fn check(&self) -> Result<(), String> {
        length_within("code", &self.code, CODE_LEN, CODE_LEN)?;
        length_within(
            "idempotency_key",
            &self.idempotency_key,
            1,
            IDEMPOTENCY_KEY_LEN_MAX,
        )?;
        length_within("currency", &self.currency, 3, 3)?;
        length_within("memo", &self.memo, 0, MEMO_LEN_MAX)?;
        length_within("metadata", &self.metadata, 0, METADATA_LEN_MAX)
    }
}

impl WriterRow for PostingRow {
    const INTO: &'static str = "postings (transaction_id, seq, leg, debit_account_id, \
        credit_account_id, amount_minor, reservation, debit_prev_txn, credit_prev_txn)";

    fn push_values<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        push_binds!(
            out;
            BigInt => &self.transaction_id,
            SmallInt => &self.seq,
            Text => &self.leg,
            BigInt => &self.debit_account_id,
            BigInt => &self.credit_account_id,
            BigInt => &self.amount_minor,
            Bool => &self.reservation,
            Nullable<BigInt> => &self.debit_prev_txn,
            Nullable<BigInt> => &self.credit_prev_txn
        )
    }
}

impl WriterRow for PendingRow {
    const INTO: &'static str = "pending_transfers (transaction_id, kind, currency, \
        debit_account_id, credit_account_id, amount_minor, expires_at, status, day_number, \
        resolved_by)";

    fn push_values<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        push_binds!(
            out;
            BigInt => &self.transaction_id,
            Text => &self.kind,
            Text => &self.currency,
            BigInt => &self.debit_account_id,
            BigInt => &self.credit_account_id,
            BigInt => &self.amount_minor,
            BigInt => &self.expires_at,
            Text => &self.status,
            BigInt => &self.day_number,
            Nullable<BigInt> => &self.resolved_by
        )
    }
}

/// One allowance charge: the transaction, the allowance it spent, the amount and when.
pub struct ChargeRow {
    pub transaction_id: i64,
    pub allowance_id: i64,
    pub amount_minor: i64,
    pub created_at: i64,
}

impl WriterRow for ChargeRow {
    const INTO: &'static str =
        "allowance_charges (transaction_id, allowance_id, amount_minor, created_at)";

    fn push_values<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        push_binds!(
            out;
            BigInt => &self.transaction_id,
            BigInt => &self.allowance_id,
            BigInt => &self.amount_minor,
            BigInt => &self.created_at
        )
    }
}

impl WriterRow for DueRow {
    const INTO: &'static str = "sms_confirmations_due (transaction_id, sides)";

    fn push_values<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        push_binds!(
            out;
            BigInt => &self.transaction_id,
            Text => &self.sides
        )
    }

    fn check(&self) -> Result<(), String> {
        length_within("sides", &self.sides, SIDES_LEN_MIN, SIDES_LEN_MAX)
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel_migrations::MigrationHarness;

    use super::*;
    use crate::store::cached::tests::Prepared;
    use crate::store::db::SQLITE_MIGRATIONS;

    fn migrated() -> SqliteConnection {
        let mut c = SqliteConnection::establish(":memory:")
            .unwrap_or_else(|e| unreachable!("an in-memory SQLite database always opens: {e}"));
        c.run_pending_migrations(SQLITE_MIGRATIONS)
            .unwrap_or_else(|e| unreachable!("the migrations run on a new database: {e}"));
        // As on the ledger writer's own connection (`store::writer`): the rows here reference
        // no real accounts.
        diesel::sql_query("PRAGMA foreign_keys = OFF")
            .execute(&mut c)
            .unwrap_or_else(|e| unreachable!("{e}"));
        c
    }

    fn txn(id: i64, key: &str) -> TransactionRow {
        TransactionRow {
            id,
            code: "ABCDEFGHJK".into(),
            idempotency_key: key.into(),
            fingerprint: "f".into(),
            kind: "transfer".into(),
            phase: "posted".into(),
            currency: "KES".into(),
            amount_minor: 100,
            fee_minor: 0,
            commission_minor: 0,
            debit_account_id: 1,
            credit_account_id: 2,
            related_id: None,
            expires_at: None,
            memo: String::new(),
            metadata: "{}".into(),
            created_at: 1,
        }
    }

    fn posting(id: i64) -> PostingRow {
        PostingRow {
            transaction_id: id,
            seq: 0,
            leg: "principal".into(),
            debit_account_id: 1,
            credit_account_id: 2,
            amount_minor: 100,
            reservation: false,
            debit_prev_txn: None,
            credit_prev_txn: None,
        }
    }

    fn pending(id: i64) -> PendingRow {
        PendingRow {
            transaction_id: id,
            kind: "purchase".into(),
            currency: "KES".into(),
            debit_account_id: 1,
            credit_account_id: 2,
            amount_minor: 100,
            expires_at: 10,
            status: "open".into(),
            day_number: 1,
            resolved_by: None,
        }
    }

    fn charge(id: i64) -> ChargeRow {
        ChargeRow {
            transaction_id: id,
            allowance_id: 1,
            amount_minor: 1,
            created_at: 1,
        }
    }

    fn due(id: i64) -> DueRow {
        DueRow {
            transaction_id: id,
            sides: "[null,null]".into(),
        }
    }

    #[derive(QueryableByName)]
    struct Op {
        #[diesel(sql_type = diesel::sql_types::Text)]
        opcode: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        p1: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        p2: i64,
    }

    /// The program SQLite compiles for `sql` (binds left unset).
    fn program(c: &mut SqliteConnection, sql: &str) -> Vec<Op> {
        diesel::sql_query(format!("EXPLAIN {sql}"))
            .load(c)
            .unwrap_or_else(|e| unreachable!("EXPLAIN {sql}: {e}"))
    }

    /// Whether SQLite would keep a statement journal for `sql` (if it writes several rows): it
    /// does when the program may abort, i.e. calls a function or halts on a constraint with the
    /// `ABORT` resolution (2; `FAIL` is 3).
    fn may_abort(ops: &[Op]) -> bool {
        ops.iter().any(|o| {
            o.opcode == "Function"
                || o.opcode == "PureFunc"
                || ((o.opcode == "Halt" || o.opcode == "HaltIfNull") && o.p1 != 0 && o.p2 == 2)
        })
    }

    fn statement_of<R: WriterRow>(rows: &[R; 2]) -> String {
        let sql = diesel::debug_query::<Sqlite, _>(&InsertOrFail(rows)).to_string();
        sql.split(" -- binds:")
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    fn check_statement<R: WriterRow>(c: &mut SqliteConnection, rows: &[R; 2]) {
        let sql = statement_of(rows);
        assert!(sql.starts_with("INSERT OR FAIL INTO "), "{sql}");
        let ops = program(c, &sql);
        assert!(ops.len() > 5, "{sql}");
        assert!(
            ops.iter().any(|o| o.opcode == "Insert"),
            "the program writes rows: {sql}"
        );
        assert!(
            !may_abort(&ops),
            "SQLite would journal this statement: {sql}"
        );
        // The same statement without `OR FAIL` aborts on a constraint: the check above can fail.
        let plain = sql.replacen("INSERT OR FAIL", "INSERT", 1);
        assert!(may_abort(&program(c, &plain)), "{plain}");
    }

    #[test]
    fn writer_inserts_need_no_statement_journal() {
        let mut c = migrated();
        check_statement(&mut c, &[txn(1, "k1"), txn(2, "k2")]);
        check_statement(&mut c, &[posting(1), posting(2)]);
        check_statement(&mut c, &[pending(1), pending(2)]);
        check_statement(&mut c, &[charge(1), charge(2)]);
        check_statement(&mut c, &[due(1), due(2)]);
    }

    fn count(c: &mut SqliteConnection, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<N>(c)
            .map(|r| r.n)
            .unwrap_or(-1)
    }

    #[test]
    fn rows_go_in_by_seven_statements_each_prepared_once() -> Result<(), StoreError> {
        let mut c = migrated();
        let prepared = Prepared::default();
        c.set_instrumentation(prepared.clone());
        let first: Vec<TransactionRow> = (1..=100).map(|i| txn(i, &format!("a{i}"))).collect();
        insert(&mut c, &first)?;
        let second: Vec<TransactionRow> = (101..=200).map(|i| txn(i, &format!("b{i}"))).collect();
        insert(&mut c, &second)?;
        assert_eq!(count(&mut c, "transactions"), 200);
        let seen = prepared.0.lock().map(|s| s.clone()).unwrap_or_default();
        // 100 rows are 64 + 32 + 4: three statements, prepared on first use and then reused.
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen
            .iter()
            .all(|s| s.starts_with("INSERT OR FAIL INTO transactions")));
        Ok(())
    }

    #[test]
    fn a_repeated_key_is_still_a_unique_violation() -> Result<(), StoreError> {
        let mut c = migrated();
        insert(&mut c, &[txn(1, "same")])?;
        let again = insert(&mut c, &[txn(2, "other"), txn(3, "same")]);
        assert!(
            matches!(
                again,
                Err(StoreError::Query(DieselError::DatabaseError(
                    DatabaseErrorKind::UniqueViolation,
                    _
                )))
            ),
            "{again:?}"
        );
        Ok(())
    }

    #[test]
    fn lengths_the_table_no_longer_checks_are_refused_before_anything_is_written() {
        let mut c = migrated();
        let long_key = "k".repeat(IDEMPOTENCY_KEY_LEN_MAX + 1);
        let cases: Vec<(&str, TransactionRow)> = vec![
            ("idempotency_key", txn(2, &long_key)),
            ("idempotency_key", txn(2, "")),
            (
                "code",
                TransactionRow {
                    code: "SHORT".into(),
                    ..txn(2, "k")
                },
            ),
            (
                "currency",
                TransactionRow {
                    currency: "KESH".into(),
                    ..txn(2, "k")
                },
            ),
            (
                "memo",
                TransactionRow {
                    memo: "é".repeat(MEMO_LEN_MAX + 1),
                    ..txn(2, "k")
                },
            ),
            (
                "metadata",
                TransactionRow {
                    metadata: "m".repeat(METADATA_LEN_MAX + 1),
                    ..txn(2, "k")
                },
            ),
        ];
        for (column, row) in cases {
            // A good row first: the refusal must come before any row of the call goes in.
            let refused = insert(&mut c, &[txn(1, "good"), row]);
            let message = match &refused {
                Err(StoreError::Query(DieselError::DatabaseError(
                    DatabaseErrorKind::CheckViolation,
                    info,
                ))) => info.message().to_owned(),
                _ => String::new(),
            };
            assert!(message.starts_with(column), "{column}: {refused:?}");
            assert_eq!(count(&mut c, "transactions"), 0, "{column}");
        }
        // At the limits, in characters as SQLite counts them (`é` is two bytes).
        let edge = TransactionRow {
            memo: "é".repeat(MEMO_LEN_MAX),
            ..txn(1, &"k".repeat(IDEMPOTENCY_KEY_LEN_MAX))
        };
        assert!(insert(&mut c, &[edge]).is_ok());
        for sides in ["[", &"9".repeat(SIDES_LEN_MAX + 1)] {
            let refused = insert(
                &mut c,
                &[DueRow {
                    transaction_id: 1,
                    sides: sides.into(),
                }],
            );
            assert!(
                matches!(
                    refused,
                    Err(StoreError::Query(DieselError::DatabaseError(
                        DatabaseErrorKind::CheckViolation,
                        _
                    )))
                ),
                "{} characters: {refused:?}",
                sides.len()
            );
        }
        assert_eq!(count(&mut c, "sms_confirmations_due"), 0);
    }
}
