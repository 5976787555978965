//! Migrations: the same names on both backends, and up → down → up works on each.

use std::collections::BTreeSet;
use std::path::PathBuf;

use diesel_migrations::MigrationHarness;
use mkoba::store::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use mkoba::store::{AnyConnection, Backend};

use crate::support::TestDb;

fn names(backend: &str) -> BTreeSet<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../migrations")
                    .join(backend)
                    .join(name)
                    .join(file);
                assert!(path.is_file(), "{} is missing", path.display());
            }
        }
    }
}

fn up_down_up(backend: Backend) {
    // A fresh, unmigrated database: SQLite file, or an empty PostgreSQL database.
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let count = names("sqlite").len();
    match &mut conn {
        AnyConnection::Postgres(c) => {
            c.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap();
            assert_eq!(
                c.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
                count
            );
        }
        AnyConnection::Sqlite(c) => {
            assert_eq!(
                c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.revert_all_migrations(SQLITE_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
                count
            );
        }
    }
    assert!(mkoba::store::db::migrations_current(&mut conn).unwrap());
}

#[test]
fn sqlite_migrates_up_down_up() {
    up_down_up(Backend::Sqlite);
}

#[test]
fn postgres_migrates_up_down_up() {
    up_down_up(Backend::Postgres);
}

/// Unique indexes SQLite keeps on `transactions`, by the columns they cover.
fn sqlite_unique_columns(c: &mut diesel::SqliteConnection) -> BTreeSet<String> {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
    }
    diesel::sql_query(
        "SELECT ii.name FROM pragma_index_list('transactions') AS il, \
         pragma_index_info(il.name) AS ii WHERE il.[unique] = 1 AND il.origin <> 'pk'",
    )
    .load::<Column>(c)
    .unwrap()
    .into_iter()
    .map(|c| c.name)
    .collect()
}

/// Migration 000013 rebuilds SQLite's journal table to drop the unique index on `code`: with a
/// journal in it, down and up again keep every row, the append-only triggers, foreign keys, and
/// a ledger that reconciles and goes on taking transfers.
#[test]
fn sqlite_journal_rebuild_keeps_rows_guards_and_references() {
    use diesel::prelude::*;
    use mkoba_ledger::{Outcome, Tier, TxnKind};
    let env = crate::support::TestEnv::start(Backend::Sqlite);
    let (float, _) = env.agent("AG1", 10_000_000);
    let wallets: Vec<_> = (0..5)
        .map(|i| env.customer(&format!("+25470055000{i}"), Tier::Tier1))
        .collect();
    for w in &wallets {
        assert!(matches!(
            env.submit(TxnKind::Deposit, float, *w, 50_000),
            Outcome::Accepted(_)
        ));
    }
    let before = env.journal_size();
    let codes = || -> Vec<(i64, String)> {
        use mkoba::store::schema::transactions;
        let mut conn = env.conn();
        mkoba::with_conn!(&mut *conn, |c| transactions::table
            .select((transactions::id, transactions::code))
            .order(transactions::id)
            .load(c))
        .unwrap()
    };
    let codes_before = codes();
    // Down refuses to drop confirmations that still wait (000016): they become messages first.
    env.expand_confirmations();
    let mut conn = env.conn();
    let AnyConnection::Sqlite(c) = &mut *conn else {
        panic!("SQLite")
    };
    assert_eq!(
        sqlite_unique_columns(c),
        BTreeSet::from(["idempotency_key".to_owned()])
    );
    for _ in 0..2 {
        // 000019 (writer tables without functions), 000018 (ledger generation), 000017 (checks
        // without IN lists), 000016 (waiting confirmations), 000015 (outbox parameters) and
        // 000014 (account chains) go first, then 000013.
        for _ in 0..7 {
            c.revert_last_migration(SQLITE_MIGRATIONS).unwrap();
        }
        assert_eq!(
            sqlite_unique_columns(c),
            BTreeSet::from(["code".to_owned(), "idempotency_key".to_owned()])
        );
        assert_eq!(
            c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
            7
        );
        assert_eq!(
            sqlite_unique_columns(c),
            BTreeSet::from(["idempotency_key".to_owned()])
        );
    }
    // Foreign keys are back on and nothing dangles; the journal still refuses edits.
    let fk: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
        "(SELECT foreign_keys FROM pragma_foreign_keys)",
    ))
    .get_result(c)
    .unwrap();
    assert_eq!(fk, 1);
    let dangling: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM pragma_foreign_key_check)",
    ))
    .get_result(c)
    .unwrap();
    assert_eq!(dangling, 0);
    let edit = diesel::sql_query("UPDATE transactions SET memo = 'x'").execute(c);
    assert!(format!("{edit:?}").contains("append-only"), "{edit:?}");
    let orphan = diesel::sql_query(
        "INSERT INTO postings (transaction_id, seq, leg, debit_account_id, credit_account_id, \
         amount_minor, reservation) VALUES (999999, 0, 'principal', 1, 2, 1, 0)",
    )
    .execute(c);
    assert!(
        orphan.is_err(),
        "a posting without its transaction was taken"
    );
    drop(conn);

    assert_eq!(codes(), codes_before);
    assert_eq!(env.journal_size(), before);
    env.assert_reconciles();
    // The writer's prepared statements survive the schema change.
    assert!(matches!(
        env.submit(TxnKind::Transfer, wallets[0], wallets[1], 1_000),
        Outcome::Accepted(_)
    ));
    env.assert_reconciles();
}

/// Migration 000014 derives each account's chain from the journal already there: down (the
/// per-account indexes back, the links gone) and up again give the same statements, links that
/// reconcile, and a journal that still refuses edits and goes on taking transfers.
fn account_chains_are_derived_from_the_journal(backend: Backend) {
    use diesel::connection::SimpleConnection;
    use mkoba_ledger::{Outcome, Tier, TxnKind};
    let env = crate::support::TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let wallets: Vec<_> = (0..4)
        .map(|i| env.customer(&format!("+25470066000{i}"), Tier::Tier1))
        .collect();
    for (i, w) in wallets.iter().enumerate() {
        let minor = 10_000 * (i64::try_from(i).unwrap() + 1);
        assert!(matches!(
            env.submit(TxnKind::Deposit, float, *w, minor),
            Outcome::Accepted(_)
        ));
    }
    for (a, b) in [(0, 1), (1, 2), (2, 0), (3, 0), (0, 3)] {
        assert!(matches!(
            env.submit(TxnKind::Transfer, wallets[a], wallets[b], 1_000),
            Outcome::Accepted(_)
        ));
    }
    let statements = || -> Vec<Vec<(i64, String, i64)>> {
        let mut conn = env.conn();
        wallets
            .iter()
            .chain([&float])
            .map(|w| {
                mkoba::store::reads::statement(&mut conn, w.0, None, 100)
                    .unwrap()
                    .into_iter()
                    .map(|l| (l.transaction_id, l.leg, l.amount_minor))
                    .collect()
            })
            .collect()
    };
    let before = statements();
    assert!(before.iter().all(|s| !s.is_empty()));
    let size = env.journal_size();
    env.expand_confirmations();
    {
        let mut conn = env.conn();
        // 000019, 000018, 000017, 000016 (waiting confirmations) and 000015 (outbox parameters)
        // go first, then 000014.
        revert_and_run_again(&mut conn, 6, |_| {});
        let edit = mkoba::with_conn!(&mut *conn, |c| c
            .batch_execute("UPDATE postings SET debit_prev_txn = NULL"));
        assert!(format!("{edit:?}").contains("append-only"), "{edit:?}");
    }
    assert_eq!(env.journal_size(), size);
    assert_eq!(statements(), before);
    env.assert_reconciles();
    assert!(matches!(
        env.submit(TxnKind::Transfer, wallets[1], wallets[3], 500),
        Outcome::Accepted(_)
    ));
    env.assert_reconciles();
    assert_eq!(statements()[3].first().map(|l| l.2), Some(500));
}

#[test]
fn sqlite_account_chains_are_derived_from_the_journal() {
    account_chains_are_derived_from_the_journal(Backend::Sqlite);
}

#[test]
fn postgres_account_chains_are_derived_from_the_journal() {
    account_chains_are_derived_from_the_journal(Backend::Postgres);
}

/// Reverts the newest `n` migrations, calls `between` on the reverted schema, and runs them again.
fn revert_and_run_again(
    conn: &mut AnyConnection,
    n: usize,
    between: impl FnOnce(&mut AnyConnection),
) {
    match &mut *conn {
        AnyConnection::Sqlite(c) => {
            for _ in 0..n {
                c.revert_last_migration(SQLITE_MIGRATIONS).unwrap();
            }
        }
        AnyConnection::Postgres(c) => {
            for _ in 0..n {
                c.revert_last_migration(POSTGRES_MIGRATIONS).unwrap();
            }
        }
    }
    between(&mut *conn);
    let ran = match &mut *conn {
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
        AnyConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
    };
    assert_eq!(ran, n);
}

/// Migration 000015 lets a confirmation be kept as its parameters. Down, a build without it
/// cannot render them: such a row keeps its template's name as its body and, if not yet sent,
/// is failed with the reason (never sent as that name); rows with a body are untouched. Up
/// again, the writer keeps new confirmations as parameters and every row still reads.
fn outbox_parameters_survive_down_and_up(backend: Backend) {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use mkoba::sms::outbox;
    use mkoba::store::schema::sms_outbox;
    use mkoba_ledger::{Outcome, Tier, TxnKind};
    let env = crate::support::TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700770001", Tier::Tier1);
    let bob = env.customer("+254700770002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    let stored = |conn: &mut AnyConnection| -> Vec<outbox::OutboxRow> {
        mkoba::with_conn!(&mut *conn, |c| sms_outbox::table
            .order(sms_outbox::id)
            .select(outbox::OutboxRow::as_select())
            .load(c))
        .unwrap()
    };
    env.expand_confirmations();
    let mut conn = env.conn();
    let before = stored(&mut conn);
    let kept: Vec<i64> = before
        .iter()
        .filter(|r| r.params.is_some())
        .map(|r| r.id)
        .collect();
    assert_eq!(
        kept.len(),
        3,
        "the agent's float, the customer's cash-in, the agent's: {before:?}"
    );
    // One of them already went out: down must not fail what was sent.
    let sent = "UPDATE sms_outbox SET status = 'sent' WHERE id = ";
    mkoba::with_conn!(&mut *conn, |c| c
        .batch_execute(&format!("{sent}{}", kept[1])))
    .unwrap();
    // 000019, 000018, 000017 and 000016 (waiting confirmations) go first.
    revert_and_run_again(&mut conn, 5, |conn| {
        #[derive(QueryableByName, Debug)]
        struct Old {
            #[diesel(sql_type = diesel::sql_types::Text)]
            body: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            status: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            last_error: Option<String>,
        }
        let old: Vec<Old> = mkoba::with_conn!(&mut *conn, |c| diesel::sql_query(
            "SELECT body, status, last_error FROM sms_outbox ORDER BY id"
        )
        .load(c))
        .unwrap();
        assert_eq!(old.len(), before.len());
        let by_id = |id: i64| &old[before.iter().position(|r| r.id == id).unwrap()];
        let queued = by_id(kept[0]);
        assert_eq!(
            (queued.body.as_str(), queued.status.as_str()),
            ("[float_received]", "failed")
        );
        assert!(queued
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot render"));
        let sent = by_id(kept[1]);
        assert_eq!(
            (sent.status.as_str(), sent.last_error.as_deref()),
            ("sent", None)
        );
        assert!(sent.body.starts_with('['), "{sent:?}");
    });
    let after = stored(&mut conn);
    assert!(after.iter().all(|r| r.body.is_some() && r.params.is_none()));
    drop(conn);
    assert!(matches!(
        env.submit(TxnKind::Transfer, alice, bob, 1_000),
        Outcome::Accepted(_)
    ));
    env.expand_confirmations();
    let mut conn = env.conn();
    let newest = stored(&mut conn);
    assert_eq!(newest.len(), before.len() + 2);
    assert!(newest[before.len()..]
        .iter()
        .all(|r| r.params.is_some() && r.body.is_none()));
    for row in newest {
        assert!(row.text().is_ok(), "{row:?}");
    }
    drop(conn);
    env.assert_reconciles();
}

#[test]
fn sqlite_outbox_parameters_survive_down_and_up() {
    outbox_parameters_survive_down_and_up(Backend::Sqlite);
}

#[test]
fn postgres_outbox_parameters_survive_down_and_up() {
    outbox_parameters_survive_down_and_up(Backend::Postgres);
}

/// Migration 000016 keeps a batch's confirmations as one waiting row per transaction. Down
/// refuses while any wait (their messages would be lost) and leaves them, and the ledger, as
/// they were; once they are messages, down and up again work, and new payments queue again.
fn waiting_confirmations_hold_down_back(backend: Backend) {
    use mkoba::sms::due;
    use mkoba_ledger::{Outcome, Tier, TxnKind};
    let env = crate::support::TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700880001", Tier::Tier1);
    let bob = env.customer("+254700880002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    assert_eq!(
        due::waiting(&mut env.conn()).unwrap(),
        2,
        "the float's and the cash-in's"
    );
    let size = env.journal_size();
    let revert = |conn: &mut AnyConnection| match conn {
        AnyConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).is_ok(),
        AnyConnection::Postgres(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).is_ok(),
    };
    {
        let mut conn = env.conn();
        assert!(revert(&mut conn), "000019 goes first");
        assert!(revert(&mut conn), "then 000018");
        assert!(revert(&mut conn), "then 000017");
        assert!(
            !revert(&mut conn),
            "down must refuse while confirmations wait"
        );
        assert_eq!(due::waiting(&mut conn).unwrap(), 2);
    }
    assert_eq!(env.journal_size(), size);
    let expanded = env.expand_confirmations();
    assert_eq!((expanded.confirmations, expanded.messages), (2, 3));
    {
        let mut conn = env.conn();
        assert!(revert(&mut conn), "down once nothing waits");
        let ran = match &mut *conn {
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
            AnyConnection::Postgres(c) => {
                c.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap().len()
            }
        };
        assert_eq!(ran, 4);
    }
    assert!(matches!(
        env.submit(TxnKind::Transfer, alice, bob, 1_000),
        Outcome::Accepted(_)
    ));
    assert_eq!(due::waiting(&mut env.conn()).unwrap(), 1);
    assert_eq!(env.expand_confirmations().messages, 2);
    env.assert_reconciles();
}

#[test]
fn sqlite_waiting_confirmations_hold_down_back() {
    waiting_confirmations_hold_down_back(Backend::Sqlite);
}

#[test]
fn postgres_waiting_confirmations_hold_down_back() {
    waiting_confirmations_hold_down_back(Backend::Postgres);
}

/// Migration 000017: SQLite builds a temporary B-tree for a CHECK's `IN (…)` list on every row
/// it checks, so no table's constraints may use one (this holds future migrations to it too).
/// The rewritten constraints still refuse what they refused, and `integrity_check` finds every
/// row already stored within them.
#[test]
fn sqlite_checks_build_no_temporary_tables() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use mkoba_ledger::{Tier, TxnKind};
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    #[derive(QueryableByName)]
    struct Op {
        #[diesel(sql_type = diesel::sql_types::Text)]
        opcode: String,
    }
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let env = crate::support::TestEnv::start(Backend::Sqlite);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700990001", Tier::Tier1);
    let bob = env.customer("+254700990002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    env.submit(TxnKind::Transfer, alice, bob, 1_000);
    env.expand_confirmations();
    let mut conn = env.conn();
    let AnyConnection::Sqlite(c) = &mut *conn else {
        panic!("SQLite")
    };
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL \
         AND name NOT LIKE 'sqlite_%'",
    )
    .load(c)
    .unwrap();
    assert!(tables.len() > 20, "{} tables", tables.len());
    for table in &tables {
        let flat: String = table.sql.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            !flat.to_uppercase().contains(" IN ('"),
            "{}: a CHECK with an IN list: {flat}",
            table.name
        );
        // What compiling a row's checks takes: no temporary table (`OpenEphemeral`).
        let ops: Vec<Op> = diesel::sql_query(format!(
            "EXPLAIN INSERT INTO \"{}\" DEFAULT VALUES",
            table.name
        ))
        .load(c)
        .unwrap();
        assert!(ops.len() > 3, "{}", table.name);
        assert!(
            !ops.iter().any(|o| o.opcode == "OpenEphemeral"),
            "{}: checking a new row builds a temporary table",
            table.name
        );
    }
    // The writer's account update (the floor constraint) builds none either.
    let update: Vec<Op> = diesel::sql_query(
        "EXPLAIN UPDATE accounts SET balance_minor = 1, pending_debits_minor = 0 WHERE id = 1",
    )
    .load(c)
    .unwrap();
    assert!(update.iter().any(|o| o.opcode == "Halt"));
    assert!(!update.iter().any(|o| o.opcode == "OpenEphemeral"));
    // Still refused: a value outside each list, and a wallet below its floor.
    for refused in [
        "UPDATE accounts SET status = 'gone' WHERE id = 1",
        "UPDATE accounts SET kind = 'bank' WHERE id = 1",
        "UPDATE sms_outbox SET status = 'lost' WHERE id = (SELECT MIN(id) FROM sms_outbox)",
        "UPDATE customers SET language = 'de' WHERE id = (SELECT MIN(id) FROM customers)",
        &format!(
            "UPDATE accounts SET balance_minor = -1 WHERE id = {}",
            alice.0
        ),
    ] {
        let result = c.batch_execute(refused);
        assert!(
            format!("{result:?}").contains("CHECK constraint failed"),
            "{refused}: {result:?}"
        );
    }
    // Still accepted: every value in each list (the journal's own rows are checked below).
    c.batch_execute(
        "SAVEPOINT s; UPDATE accounts SET status = 'frozen' WHERE id = 1; ROLLBACK TO s; RELEASE s",
    )
    .unwrap();
    let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(c).unwrap();
    assert_eq!(
        check
            .iter()
            .map(|r| r.integrity_check.as_str())
            .collect::<Vec<_>>(),
        ["ok"]
    );
    drop(conn);
    env.assert_reconciles();
}

/// Migration 000019: the SQLite tables the ledger writer appends to lose the length CHECKs that
/// call `length()` (which made SQLite keep a statement journal for every multi-row INSERT;
/// `store::insert_or_fail` checks those lengths now). Down puts them back as they were, SQLite
/// then refuses an overlong key itself again, and up removes them again.
#[test]
fn sqlite_writer_tables_length_checks_go_and_come_back() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use mkoba_ledger::{Tier, TxnKind};
    #[derive(QueryableByName, PartialEq, Debug)]
    struct Definition {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let definitions = |c: &mut diesel::SqliteConnection| -> Vec<Definition> {
        diesel::sql_query(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' \
             AND name IN ('transactions', 'sms_confirmations_due') ORDER BY name",
        )
        .load(c)
        .unwrap()
    };
    let env = crate::support::TestEnv::start(Backend::Sqlite);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700990101", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    let size = env.journal_size();
    {
        let mut conn = env.conn();
        let AnyConnection::Sqlite(c) = &mut *conn else {
            panic!("SQLite")
        };
        let now = definitions(c);
        assert_eq!(now.len(), 2);
        assert!(now.iter().all(|d| !d.sql.contains("length(")), "{now:?}");
        c.revert_last_migration(SQLITE_MIGRATIONS).unwrap();
        let before = definitions(c);
        let checks: Vec<usize> = before
            .iter()
            .map(|d| d.sql.matches(" CHECK (length(").count())
            .collect();
        assert_eq!(checks, [1, 5], "sides; code, key, currency, memo, metadata");
        let overlong = format!(
            "INSERT INTO transactions (id, code, idempotency_key, fingerprint, kind, phase, \
               currency, amount_minor, fee_minor, commission_minor, debit_account_id, \
               credit_account_id, memo, metadata, created_at) \
             VALUES (999999, 'ABCDEFGHJK', '{}', 'f', 'transfer', 'posted', 'KES', 1, 0, 0, \
               {}, {}, '', '{{}}', 1)",
            "k".repeat(129),
            float.0,
            alice.0
        );
        let refused = c.batch_execute(&overlong);
        assert!(
            format!("{refused:?}").contains("CHECK constraint failed"),
            "{refused:?}"
        );
        assert_eq!(
            c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
            1
        );
        assert_eq!(definitions(c), now, "up again gives the same tables");
    }
    assert_eq!(env.journal_size(), size);
    env.assert_reconciles();
}
