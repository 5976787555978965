//! Gathers what `mkoba_ledger::reconcile` needs from one consistent snapshot of the database.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use mkoba_ledger::reconcile::{reconcile, AccountLine, Report};
use mkoba_ledger::{AccountId, AccountKind};

use crate::store::db::{snapshot_transaction, AnyConnection};
use crate::store::rows::{currency, decode, AccountRow};
use crate::store::schema::accounts;
use crate::store::StoreError;
use crate::with_conn;

/// Tables a ledger batch writes besides the journal (whose references are counted apart, on
/// both backends) that reference other rows.
const WRITER_TABLES_WITH_REFERENCES: [&str; 5] = [
    "pending_transfers",
    "allowance_charges",
    "webhook_events",
    "sms_outbox",
    "sms_confirmations_due",
];

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = BigInt)]
    account_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    total: Option<i64>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn sums(conn: &mut AnyConnection, sql: &str) -> Result<HashMap<i64, i64>, StoreError> {
    let rows: Vec<Sum> = with_conn!(conn, |c| diesel::sql_query(sql).load(c))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.account_id, r.total.unwrap_or(0)))
        .collect())
}

fn count(conn: &mut AnyConnection, sql: &str) -> Result<i64, StoreError> {
    let rows: Vec<Count> = with_conn!(conn, |c| diesel::sql_query(sql).load(c))?;
    Ok(rows.first().map_or(0, |r| r.n))
}

pub fn run(conn: &mut AnyConnection) -> Result<Report, StoreError> {
    snapshot_transaction(conn, |conn| {
        let rows: Vec<AccountRow> = with_conn!(&mut *conn, |c| accounts::table
            .order(accounts::id)
            .select(AccountRow::as_select())
            .load(c))?;
        let credits = sums(
            conn,
            "SELECT credit_account_id AS account_id, CAST(SUM(amount_minor) AS BIGINT) AS total \
             FROM postings WHERE NOT reservation GROUP BY credit_account_id",
        )?;
        let debits = sums(
            conn,
            "SELECT debit_account_id AS account_id, CAST(SUM(amount_minor) AS BIGINT) AS total \
             FROM postings WHERE NOT reservation GROUP BY debit_account_id",
        )?;
        let open =
            "FROM postings p JOIN pending_transfers t ON t.transaction_id = p.transaction_id \
                    WHERE p.reservation AND t.status = 'open'";
        let pending_debits = sums(conn, &format!(
            "SELECT p.debit_account_id AS account_id, CAST(SUM(p.amount_minor) AS BIGINT) AS total {open} GROUP BY p.debit_account_id"
        ))?;
        let pending_credits = sums(conn, &format!(
            "SELECT p.credit_account_id AS account_id, CAST(SUM(p.amount_minor) AS BIGINT) AS total {open} GROUP BY p.credit_account_id"
        ))?;
        // Every posting's two accounts must be in its transaction's currency.
        let mixed = count(conn, "SELECT COUNT(*) AS n FROM postings p \
             JOIN transactions t ON t.id = p.transaction_id \
             JOIN accounts d ON d.id = p.debit_account_id JOIN accounts c ON c.id = p.credit_account_id \
             WHERE d.currency <> t.currency OR c.currency <> t.currency")?;
        // Every transaction that moved money has a principal posting of its full amount.
        let unbacked = count(
            conn,
            "SELECT COUNT(*) AS n FROM transactions t \
             WHERE t.phase IN ('posted', 'post_pending') AND NOT EXISTS (SELECT 1 FROM postings p \
             WHERE p.transaction_id = t.id AND p.leg = 'principal' AND NOT p.reservation \
             AND p.amount_minor = t.amount_minor)",
        )?;

        // References the database no longer checks row by row (PostgreSQL's journal has no
        // foreign-key triggers): every posting and transaction names accounts that exist, and
        // every posting a transaction that exists.
        let dangling = count(
            conn,
            "SELECT COUNT(*) AS n FROM postings p \
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.debit_account_id) \
                OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.credit_account_id) \
                OR NOT EXISTS (SELECT 1 FROM transactions t WHERE t.id = p.transaction_id)",
        )? + count(
            conn,
            "SELECT COUNT(*) AS n FROM transactions t \
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.debit_account_id) \
                OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.credit_account_id) \
                OR (t.related_id IS NOT NULL \
                    AND NOT EXISTS (SELECT 1 FROM transactions r WHERE r.id = t.related_id))",
        )?;
        // The ledger writer's SQLite connection does not check foreign keys row by row (see
        // `store::writer`): the other tables its batches write are checked here, by SQLite's own
        // check. PostgreSQL keeps these tables' foreign keys, except the outbox's (000009) and the
        // waiting confirmations'.
        let unreferenced = match conn {
            AnyConnection::Sqlite(_) => {
                let mut n = 0;
                for table in WRITER_TABLES_WITH_REFERENCES {
                    n += count(
                        conn,
                        &format!("SELECT COUNT(*) AS n FROM pragma_foreign_key_check('{table}')"),
                    )?;
                }
                n
            }
            // The waiting confirmations have no foreign key on PostgreSQL (000016): counted here.
            AnyConnection::Postgres(_) => count(
                conn,
                "SELECT COUNT(*) AS n FROM sms_confirmations_due d \
                 WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.id = d.transaction_id)",
            )?,
        };
        // Each account's chain (`store::chain`): every posting's link for each of its accounts
        // names the account's previous transaction, and each account names its newest.
        let touches =
            "SELECT debit_account_id AS account_id, transaction_id, debit_prev_txn AS prev \
             FROM postings UNION ALL \
             SELECT credit_account_id, transaction_id, credit_prev_txn FROM postings";
        let broken_links = count(conn, &format!(
            "WITH touches AS ({touches}), \
               expected AS (SELECT account_id, transaction_id, \
                   LAG(transaction_id) OVER (PARTITION BY account_id ORDER BY transaction_id) AS prev \
                 FROM (SELECT DISTINCT account_id, transaction_id FROM touches) AS d) \
             SELECT COUNT(*) AS n FROM touches t JOIN expected e \
               ON e.account_id = t.account_id AND e.transaction_id = t.transaction_id \
             WHERE COALESCE(t.prev, -1) <> COALESCE(e.prev, -1)"
        ))?;
        let wrong_heads = count(
            conn,
            &format!(
                "SELECT COUNT(*) AS n FROM accounts a LEFT JOIN \
               (SELECT account_id, MAX(transaction_id) AS last FROM ({touches}) AS x \
                GROUP BY account_id) AS h ON h.account_id = a.id \
             WHERE COALESCE(a.last_transaction_id, -1) <> COALESCE(h.last, -1)"
            ),
        )?;

        let get = |m: &HashMap<i64, i64>, id: i64| m.get(&id).copied().unwrap_or(0);
        let lines = rows
            .iter()
            .map(|row| {
                Ok(AccountLine {
                    id: AccountId(row.id),
                    kind: decode(AccountKind::parse(&row.kind), "account kind", &row.kind)?,
                    currency: currency(&row.currency)?,
                    balance_minor: row.balance_minor,
                    pending_debits_minor: row.pending_debits_minor,
                    pending_credits_minor: row.pending_credits_minor,
                    journal_balance_minor: get(&credits, row.id) - get(&debits, row.id),
                    journal_pending_debits_minor: get(&pending_debits, row.id),
                    journal_pending_credits_minor: get(&pending_credits, row.id),
                })
            })
            .collect::<Result<Vec<AccountLine>, StoreError>>()?;
        let mut report = reconcile(&lines);
        if mixed > 0 {
            report.mismatches.push(format!(
                "{mixed} postings touch an account in another currency"
            ));
        }
        if dangling > 0 {
            report.mismatches.push(format!(
                "{dangling} journal rows name an account or transaction that does not exist"
            ));
        }
        if unreferenced > 0 {
            report.mismatches.push(format!(
                "{unreferenced} rows written by the ledger refer to rows that do not exist"
            ));
        }
        if broken_links > 0 {
            report.mismatches.push(format!(
                "{broken_links} postings link to the wrong previous transaction of an account"
            ));
        }
        if wrong_heads > 0 {
            report.mismatches.push(format!(
                "{wrong_heads} accounts do not name their newest transaction"
            ));
        }
        if unbacked > 0 {
            report.mismatches.push(format!(
                "{unbacked} transactions lack a principal posting of their amount"
            ));
        }
        Ok(report)
    })
}
