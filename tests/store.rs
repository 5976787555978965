//! The store conformance suite: every scenario runs on SQLite and on PostgreSQL.

use diesel::connection::SimpleConnection;
use mkoba::store::parties;
use mkoba::store::reads;
use mkoba_ledger::{
    AccountStatus, Command, Outcome, Phase, Rejection, Tier, TxnId, TxnKind, VoidReason,
};

use crate::support::TestEnv;
use mkoba::store::Backend;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(mkoba::store::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(mkoba::store::Backend::Postgres) })*
        }
    };
}

conformance!(
    money_moves_with_fees_and_commissions,
    retries_with_the_same_key_never_double_post,
    replays_are_found_when_a_batch_assumes_its_keys_new,
    rejections_write_nothing,
    a_rejected_command_does_not_fail_its_batch,
    pending_transfers_post_void_and_expire,
    reversals_follow_the_rules,
    journal_rows_cannot_be_changed,
    journal_references_are_refused_or_reported,
    money_columns_are_guarded_by_the_schema,
    a_corrupt_row_is_an_error_not_a_missing_one,
    frozen_accounts_cannot_move_money,
    statements_page_through_postings,
    statements_follow_each_accounts_chain,
    broken_chains_are_reported_and_never_extended,
    sends_post_when_their_cancel_window_closes,
    adjustments_move_money_through_suspense,
);

fn accepted(outcome: &Outcome) -> &mkoba_ledger::Receipt {
    match outcome {
        Outcome::Accepted(r) => r,
        other => panic!("expected acceptance, got {other:?}"),
    }
}

fn money_moves_with_fees_and_commissions(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, commission) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    let shop = env.merchant("SHOP1");
    let revenue = env.system().fee_revenue;

    // Cash-in of 1,000.00 earns the agent 15.00 commission from fee revenue.
    let r = env.submit(TxnKind::Deposit, float, alice, 100_000);
    assert_eq!(accepted(&r).commission_minor, 1_500);
    assert_eq!(accepted(&r).code.len(), 10);
    assert_eq!(env.balance(alice), 100_000);
    assert_eq!(env.balance(float), 9_900_000);
    assert_eq!(env.balance(commission), 1_500);
    assert_eq!(env.balance(revenue), -1_500);

    // Sending 500.00 costs the sender 7.00.
    let r = env.submit(TxnKind::Transfer, alice, bob, 50_000);
    assert_eq!(accepted(&r).fee_minor, 700);
    assert_eq!(env.balance(alice), 100_000 - 50_000 - 700);
    assert_eq!(env.balance(bob), 50_000);

    // Withdrawing 200.00 costs 29.00 and earns the agent 8.00.
    let r = env.submit(TxnKind::Withdrawal, bob, float, 20_000);
    assert_eq!(
        (accepted(&r).fee_minor, accepted(&r).commission_minor),
        (2_900, 800)
    );
    assert_eq!(env.balance(bob), 50_000 - 20_000 - 2_900);
    assert_eq!(env.balance(commission), 1_500 + 800);

    // Paying a merchant 100.00: free for the customer, 0.5% (0.50) for the merchant.
    let r = env.submit(TxnKind::MerchantPayment, alice, shop, 10_000);
    assert_eq!(accepted(&r).fee_minor, 50);
    assert_eq!(env.balance(shop), 9_950);
    assert_eq!(env.balance(revenue), -1_500 + 700 + 2_900 - 800 + 50);
    env.assert_reconciles();
}

fn retries_with_the_same_key_never_double_post(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let request = env.request(TxnKind::Deposit, float, alice, 50_000);

    let first = env.run(Command::Submit(request.clone()));
    let size = env.journal_size();
    let second = env.run(Command::Submit(request.clone()));
    match (&first, &second) {
        (Outcome::Accepted(a), Outcome::Replayed(b)) => assert_eq!(a, b),
        other => panic!("expected acceptance then replay, got {other:?}"),
    }
    assert_eq!(env.journal_size(), size, "a replay writes nothing");
    assert_eq!(env.balance(alice), 50_000);

    let mut changed = request;
    changed.amount = mkoba_ledger::Money::from_minor(50_001, mkoba_ledger::Currency::KES);
    assert_eq!(
        env.run(Command::Submit(changed)).rejection(),
        Some(Rejection::IdempotencyKeyReused)
    );
    assert_eq!(env.balance(alice), 50_000);
    env.assert_reconciles();
}

/// A SQLite writer's batch assumes its keys new (`store::batch::keys`): the journal's unique
/// index finds a replayed key that would be accepted again, and a look-up after the run finds
/// one that would now be rejected. Either way the answer is the one a batch that looked its
/// keys up first gives (PostgreSQL always does), and nothing is written twice.
fn replays_are_found_when_a_batch_assumes_its_keys_new(backend: Backend) {
    use mkoba::store::batch::keys::PriorKeys;
    use mkoba::store::batch::{run_batch_as, WriterMemory};
    use mkoba::store::AnyConnection;
    use mkoba_ledger::TxnRequest;

    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 20_000);
    let mut conn = env.db.connect();
    // A fresh memory per batch: every SQLite batch here assumes its keys new.
    let run = |conn: &mut AnyConnection, commands: &[Command]| {
        let mut memory = WriterMemory::new(1_024);
        let now = mkoba::store::writer::Clock::now(&*env.clock);
        let notify = vec![true; commands.len()];
        let outcomes = run_batch_as(
            conn,
            &env.app.ledger,
            0,
            now,
            commands,
            &notify,
            Some(&mut memory),
        )
        .unwrap();
        (outcomes, memory.replays.next_batch())
    };
    let after_replay = match backend {
        Backend::Sqlite => PriorKeys::LookUpFirst,
        Backend::Postgres => PriorKeys::AssumeNew,
    };
    let transfer = |minor: i64| Command::Submit(env.request(TxnKind::Transfer, alice, bob, minor));
    let with_amount = |command: &Command, minor: i64| match command {
        Command::Submit(request) => Command::Submit(TxnRequest {
            amount: mkoba_ledger::Money::from_minor(minor, mkoba_ledger::Currency::KES),
            ..request.clone()
        }),
        other => panic!("a submit, not {other:?}"),
    };

    let big = transfer(15_000);
    let (outcomes, _) = run(&mut conn, std::slice::from_ref(&big));
    let big_receipt = accepted(&outcomes[0]).clone();
    let size = env.journal_size();

    // Replayed, where running it anew would be refused for funds: found after the run.
    let small = transfer(1_000);
    let (outcomes, next) = run(&mut conn, &[big.clone(), small.clone()]);
    assert_eq!(outcomes[0], Outcome::Replayed(big_receipt.clone()));
    let small_receipt = accepted(&outcomes[1]).clone();
    assert_eq!(
        next,
        PriorKeys::AssumeNew,
        "a rejected key rolls nothing back"
    );
    assert_eq!(env.journal_size().0, size.0 + 1, "the replay wrote nothing");

    // Replayed, where running it anew would be accepted: found by the unique index.
    let another = transfer(500);
    let (outcomes, next) = run(&mut conn, &[another.clone(), small.clone()]);
    let another_receipt = accepted(&outcomes[0]).clone();
    assert_eq!(outcomes[1], Outcome::Replayed(small_receipt.clone()));
    assert_eq!(next, after_replay, "keys are looked up first for a while");
    assert_eq!(env.journal_size().0, size.0 + 2);

    // A key used before for something else, either way; and a key twice in one batch.
    let twice = transfer(100);
    let (outcomes, _) = run(
        &mut conn,
        &[
            with_amount(&small, 200),
            with_amount(&another, 1_000_000),
            twice.clone(),
            twice.clone(),
        ],
    );
    assert_eq!(
        outcomes[0].rejection(),
        Some(Rejection::IdempotencyKeyReused)
    );
    assert_eq!(
        outcomes[1].rejection(),
        Some(Rejection::IdempotencyKeyReused)
    );
    let twice_receipt = accepted(&outcomes[2]).clone();
    assert_eq!(outcomes[3], Outcome::Replayed(twice_receipt));
    assert_eq!(env.journal_size().0, size.0 + 3);
    assert_ne!(another_receipt.txn_id, small_receipt.txn_id);
    assert_eq!(env.balance(bob), 15_000 + 1_000 + 500 + 100);
    drop(conn);
    env.assert_reconciles();
}

fn rejections_write_nothing(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier0);
    let bob = env.customer("+254700100002", Tier::Tier0);
    env.submit(TxnKind::Deposit, float, alice, 10_000);
    let size = env.journal_size();
    let balances = (env.balance(alice), env.balance(bob), env.balance(float));

    let cases = [
        (
            env.submit(TxnKind::Transfer, alice, bob, 10_001),
            Rejection::InsufficientFunds,
        ),
        (
            env.submit(TxnKind::Transfer, alice, alice, 100),
            Rejection::SameAccount,
        ),
        (
            env.submit(TxnKind::Deposit, alice, bob, 10_000),
            Rejection::AccountKindNotAllowed,
        ),
        (
            env.submit(TxnKind::Withdrawal, alice, float, 4_999),
            Rejection::BelowMinimumAmount,
        ),
        (
            env.submit(TxnKind::Transfer, alice, bob, 0),
            Rejection::AmountNotPositive,
        ),
        (
            env.submit(TxnKind::Transfer, alice, bob, 25_000_001),
            Rejection::AmountExceedsMaximum,
        ),
        (
            env.submit(TxnKind::Deposit, float, bob, 2_000_001),
            Rejection::ExceedsTransactionLimit,
        ),
        (
            env.submit(
                TxnKind::Transfer,
                alice,
                mkoba_ledger::AccountId(999_999),
                100,
            ),
            Rejection::AccountNotFound,
        ),
    ];
    for (outcome, expected) in cases {
        assert_eq!(outcome.rejection(), Some(expected), "{outcome:?}");
    }
    assert_eq!(
        env.journal_size(),
        size,
        "rejections leave the journal untouched"
    );
    assert_eq!(
        (env.balance(alice), env.balance(bob), env.balance(float)),
        balances
    );
    env.assert_reconciles();
}

fn a_rejected_command_does_not_fail_its_batch(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let wallets: Vec<_> = (0..20)
        .map(|i| env.customer(&format!("+2547002000{i:02}"), Tier::Tier1))
        .collect();
    // Fire many commands at once so the writer batches them; every third one overdraws.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcomes: Vec<Outcome> = runtime.block_on(async {
        let handles: Vec<_> = wallets
            .iter()
            .enumerate()
            .map(|(i, wallet)| {
                let request = if i % 3 == 0 {
                    env.request(TxnKind::Transfer, *wallet, float, 1) // no money to send
                } else {
                    env.request(TxnKind::Deposit, float, *wallet, 10_000)
                };
                let writer = env.app.writer.clone();
                tokio::spawn(async move { writer.submit(Command::Submit(request)).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.push(handle.await.unwrap().unwrap());
        }
        outcomes
    });
    for (i, outcome) in outcomes.iter().enumerate() {
        if i % 3 == 0 {
            assert!(outcome.rejection().is_some(), "{i}: {outcome:?}");
            assert_eq!(env.balance(wallets[i]), 0);
        } else {
            assert!(matches!(outcome, Outcome::Accepted(_)), "{i}: {outcome:?}");
            assert_eq!(env.balance(wallets[i]), 10_000);
        }
    }
    env.assert_reconciles();
}

fn pending_transfers_post_void_and_expire(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 1_000_000);

    let mut hold = env.request(TxnKind::Transfer, alice, bob, 300_000);
    hold.pending_expiry_seconds = Some(60);
    let pending = accepted(&env.run(Command::Submit(hold))).clone();
    assert_eq!(pending.phase, Phase::Pending);
    assert_eq!(
        env.balance(alice),
        1_000_000,
        "a reservation is not a posting"
    );
    assert_eq!(env.available(alice), 1_000_000 - 300_000 - 5_300);

    // Post only 200.00 of the 3,000.00: the fee follows the posted amount.
    let post = env.run(Command::PostPending {
        idempotency_key: env.next_key(),
        pending: pending.txn_id,
        amount_minor: Some(20_000),
    });
    assert_eq!(accepted(&post).fee_minor, 700);
    assert_eq!(env.balance(alice), 1_000_000 - 20_000 - 700);
    assert_eq!(
        env.available(alice),
        env.balance(alice),
        "the whole reservation is released"
    );
    assert_eq!(env.balance(bob), 20_000);
    let again = env.run(Command::VoidPending {
        idempotency_key: env.next_key(),
        pending: pending.txn_id,
        reason: VoidReason::Cancelled,
    });
    assert_eq!(again.rejection(), Some(Rejection::PendingAlreadyPosted));

    // A second hold is voided.
    let mut hold = env.request(TxnKind::Withdrawal, alice, float, 10_000);
    hold.pending_expiry_seconds = Some(60);
    let second = accepted(&env.run(Command::Submit(hold))).txn_id;
    let void = env.run(Command::VoidPending {
        idempotency_key: env.next_key(),
        pending: second,
        reason: VoidReason::Cancelled,
    });
    assert_eq!(accepted(&void).phase, Phase::VoidPending);
    assert_eq!(env.available(alice), env.balance(alice));

    // A third expires: the sweeper voids it once the clock passes its expiry.
    let mut hold = env.request(TxnKind::Transfer, alice, bob, 10_000);
    hold.pending_expiry_seconds = Some(30);
    let third = accepted(&env.run(Command::Submit(hold))).txn_id;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        runtime.block_on(env.app.sweep_expired(100)).unwrap(),
        0,
        "nothing has expired yet"
    );
    env.clock.advance_seconds(31);
    assert_eq!(runtime.block_on(env.app.sweep_expired(100)).unwrap(), 1);
    assert_eq!(
        runtime.block_on(env.app.sweep_expired(100)).unwrap(),
        0,
        "expired once only"
    );
    let post = env.run(Command::PostPending {
        idempotency_key: env.next_key(),
        pending: third,
        amount_minor: None,
    });
    assert_eq!(post.rejection(), Some(Rejection::PendingExpired));
    assert_eq!(env.available(alice), env.balance(alice));
    env.assert_reconciles();
}

fn reversals_follow_the_rules(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    let carol = env.customer("+254700100003", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 1_000_000);
    let sent = accepted(&env.submit(TxnKind::Transfer, alice, bob, 100_000)).txn_id;
    // Bob spends 600.00 of the 1,000.00 before the reversal: only 400.00 can come back.
    env.submit(TxnKind::Transfer, bob, carol, 60_000);
    let bob_left = env.balance(bob);
    let reverse = |key: String| {
        env.run(Command::Reverse {
            idempotency_key: key,
            original: sent,
            memo: "wrong number".into(),
        })
    };
    let first = reverse(env.next_key());
    assert_eq!(accepted(&first).amount.minor(), bob_left);
    assert_eq!(accepted(&first).related, Some(sent));
    assert_eq!(env.balance(bob), 0);
    assert_eq!(
        reverse(env.next_key()).rejection(),
        Some(Rejection::ReversalNothingRecoverable)
    );

    // After 24 hours the window is closed.
    let late = accepted(&env.submit(TxnKind::Transfer, alice, carol, 10_000)).txn_id;
    env.clock.advance_seconds(24 * 3600 + 1);
    let outcome = env.run(Command::Reverse {
        idempotency_key: env.next_key(),
        original: late,
        memo: String::new(),
    });
    assert_eq!(outcome.rejection(), Some(Rejection::ReversalWindowClosed));
    let outcome = env.run(Command::Reverse {
        idempotency_key: env.next_key(),
        original: TxnId(9_999_999),
        memo: String::new(),
    });
    assert_eq!(outcome.rejection(), Some(Rejection::TransactionNotFound));
    env.assert_reconciles();
}

fn journal_rows_cannot_be_changed(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let id = accepted(&env.submit(TxnKind::Deposit, float, alice, 10_000))
        .txn_id
        .0;
    let mut conn = env.db.connect();
    for sql in [
        format!("UPDATE transactions SET amount_minor = 1 WHERE id = {id}"),
        format!("DELETE FROM transactions WHERE id = {id}"),
        format!("UPDATE postings SET amount_minor = 1 WHERE transaction_id = {id}"),
        format!("DELETE FROM postings WHERE transaction_id = {id}"),
    ] {
        let result = mkoba::with_conn!(&mut conn, |c| c.batch_execute(&sql));
        let err = result.expect_err(&sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(env.balance(alice), 10_000);
    env.assert_reconciles();
}

/// SQLite's foreign keys refuse a dangling journal row on any connection but the ledger
/// writer's; PostgreSQL's journal has no per-row foreign-key triggers (they cost four times the
/// insert). A dangling row that got in anyway — on SQLite through a connection without the
/// checks, as the writer's is — is reported by reconciliation, whichever table the writer's
/// batches wrote it to. Accounts can never be deleted on either.
fn journal_references_are_refused_or_reported(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let id = accepted(&env.submit(TxnKind::Deposit, float, alice, 10_000))
        .txn_id
        .0;
    let mut conn = env.db.connect();
    let delete = format!("DELETE FROM accounts WHERE id = {}", alice.0);
    let err = mkoba::with_conn!(&mut conn, |c| c.batch_execute(&delete))
        .expect_err("accounts are never deleted")
        .to_string();
    assert!(err.contains("never deleted"), "{err}");
    env.assert_reconciles();
    let dangling = format!(
        "INSERT INTO postings (transaction_id, seq, leg, debit_account_id, credit_account_id, \
         amount_minor, reservation) VALUES ({id}, 9, 'fee', 999999, {}, 1, {})",
        alice.0,
        if backend == Backend::Sqlite {
            "0"
        } else {
            "FALSE"
        }
    );
    let inserted = mkoba::with_conn!(&mut conn, |c| c.batch_execute(&dangling));
    match backend {
        Backend::Sqlite => {
            assert!(inserted.is_err(), "SQLite's foreign key refuses it");
            env.assert_reconciles();
            mkoba::with_conn!(&mut conn, |c| c.batch_execute("PRAGMA foreign_keys = OFF;"))
                .unwrap();
            mkoba::with_conn!(&mut conn, |c| c.batch_execute(&dangling)).unwrap();
            let mismatches = || {
                mkoba::store::reconcile::run(&mut env.conn())
                    .unwrap()
                    .mismatches
            };
            let found = mismatches();
            assert!(
                found
                    .iter()
                    .any(|m| m.contains("journal rows name an account or transaction")),
                "{found:?}"
            );
            assert!(
                !found.iter().any(|m| m.contains("written by the ledger")),
                "only the journal dangles yet: {found:?}"
            );
            let outbox = "INSERT INTO sms_outbox (recipient, body, template, language, \
                 transaction_id, status, next_attempt_at, deadline_at, segments, created_at) \
                 VALUES ('+254700100001', 'x', 'sent', 'en', 999999, 'queued', 0, 0, 1, 0)";
            mkoba::with_conn!(&mut conn, |c| c.batch_execute(outbox)).unwrap();
            let found = mismatches();
            assert!(
                found
                    .iter()
                    .any(|m| m.starts_with("1 rows written by the ledger refer to rows")),
                "{found:?}"
            );
        }
        Backend::Postgres => {
            inserted.expect("no per-row trigger on PostgreSQL");
            let report = mkoba::store::reconcile::run(&mut env.conn()).unwrap();
            assert!(
                report
                    .mismatches
                    .iter()
                    .any(|m| m.contains("does not exist")),
                "{:?}",
                report.mismatches
            );
        }
    }
}

fn money_columns_are_guarded_by_the_schema(backend: Backend) {
    let env = TestEnv::start(backend);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let mut conn = env.db.connect();
    // The floor holds even against a direct write that bypasses the ledger.
    let sql = format!(
        "UPDATE accounts SET balance_minor = -1 WHERE id = {}",
        alice.0
    );
    assert!(
        mkoba::with_conn!(&mut conn, |c| c.batch_execute(&sql)).is_err(),
        "floor CHECK"
    );
    let sql = format!(
        "UPDATE accounts SET pending_debits_minor = -1 WHERE id = {}",
        alice.0
    );
    assert!(
        mkoba::with_conn!(&mut conn, |c| c.batch_execute(&sql)).is_err(),
        "pending CHECK"
    );
    assert_eq!(env.balance(alice), 0);
}

fn a_corrupt_row_is_an_error_not_a_missing_one(backend: Backend) {
    let env = TestEnv::start(backend);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let mut conn = env.db.connect();
    let sql = format!(
        "UPDATE accounts SET currency = 'ZZZ' WHERE id = {}",
        alice.0
    );
    mkoba::with_conn!(&mut conn, |c| c.batch_execute(&sql)).unwrap();
    let read = reads::account(&mut env.conn(), alice.0);
    assert!(
        matches!(read, Err(mkoba::store::StoreError::Corrupt(_))),
        "{read:?}"
    );
    assert!(matches!(reads::account(&mut env.conn(), 987_654), Ok(None)));
}

fn frozen_accounts_cannot_move_money(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 10_000);
    assert!(parties::set_status(&mut env.conn(), alice, AccountStatus::Frozen).unwrap());
    assert_eq!(
        env.submit(TxnKind::Withdrawal, alice, float, 5_000)
            .rejection(),
        Some(Rejection::AccountFrozen)
    );
    assert_eq!(
        env.submit(TxnKind::Deposit, float, alice, 5_000)
            .rejection(),
        Some(Rejection::AccountFrozen)
    );
    assert!(parties::set_status(&mut env.conn(), alice, AccountStatus::Active).unwrap());
    assert!(matches!(
        env.submit(TxnKind::Withdrawal, alice, float, 5_000),
        Outcome::Accepted(_)
    ));
    assert!(parties::set_status(&mut env.conn(), alice, AccountStatus::Closed).unwrap());
    assert_eq!(
        env.submit(TxnKind::Deposit, float, alice, 5_000)
            .rejection(),
        Some(Rejection::AccountClosed)
    );
    env.assert_reconciles();
}

fn statements_page_through_postings(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    for i in 1..=7 {
        env.submit(TxnKind::Deposit, float, alice, i * 1_000);
    }
    let first = reads::statement(&mut env.conn(), alice.0, None, 4).unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(first[0].amount_minor, 7_000, "newest first");
    let before = first.last().map(|l| l.transaction_id);
    let second = reads::statement(&mut env.conn(), alice.0, before, 4).unwrap();
    assert_eq!(
        second.iter().map(|l| l.amount_minor).collect::<Vec<_>>(),
        vec![3_000, 2_000, 1_000]
    );
    let float_lines = reads::statement(&mut env.conn(), float.0, None, 1).unwrap();
    assert_eq!(float_lines[0].amount_minor, -7_000, "outgoing is negative");
}

fn sends_post_when_their_cancel_window_closes(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    let hold = |minor| {
        let mut send = env.request(TxnKind::Transfer, alice, bob, minor);
        send.pending_expiry_seconds = Some(3_600);
        accepted(&env.run(Command::Submit(send))).txn_id
    };
    let kept = hold(10_000);
    let cancelled = hold(20_000);
    let void = env.run(Command::VoidPending {
        idempotency_key: env.next_key(),
        pending: cancelled,
        reason: VoidReason::Cancelled,
    });
    assert!(matches!(void, Outcome::Accepted(_)));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        runtime.block_on(env.app.post_closed_sends(100)).unwrap(),
        0,
        "the window is still open"
    );
    assert_eq!(env.balance(bob), 0);
    env.clock
        .advance_seconds(env.app.config.ussd.cancel_window_seconds);
    assert_eq!(runtime.block_on(env.app.post_closed_sends(100)).unwrap(), 1);
    assert_eq!(
        runtime.block_on(env.app.post_closed_sends(100)).unwrap(),
        0,
        "posted once"
    );
    assert_eq!(
        env.balance(bob),
        10_000,
        "only the send that was not cancelled arrives"
    );
    let after = env.run(Command::PostPending {
        idempotency_key: env.next_key(),
        pending: kept,
        amount_minor: None,
    });
    assert_eq!(after.rejection(), Some(Rejection::PendingAlreadyPosted));
    env.assert_reconciles();
}

/// Two processes run their sweepers over the same PostgreSQL at the same moment: every closed
/// send is posted once and every lapsed reservation voided once.
#[test]
fn postgres_two_processes_sweep_without_doing_anything_twice() {
    let env = TestEnv::start(Backend::Postgres);
    let (float, _) = env.agent("AG1", 100_000_000);
    let alice = env.customer("+254700100001", Tier::Tier2);
    let bob = env.customer("+254700100002", Tier::Tier2);
    env.submit(TxnKind::Deposit, float, alice, 10_000_000);
    for i in 0..20 {
        let mut send = env.request(TxnKind::Transfer, alice, bob, 1_000 + i);
        send.pending_expiry_seconds = Some(3_600);
        assert!(matches!(
            env.run(Command::Submit(send)),
            Outcome::Accepted(_)
        ));
        let mut withdrawal = env.request(TxnKind::Withdrawal, alice, float, 10_000);
        withdrawal.pending_expiry_seconds = Some(60);
        assert!(matches!(
            env.run(Command::Submit(withdrawal)),
            Outcome::Accepted(_)
        ));
    }
    let data = tempfile::tempdir().unwrap();
    let config = crate::support::test_config(&env.db, data.path().to_path_buf());
    let clock: std::sync::Arc<dyn mkoba::store::writer::Clock> = env.clock.clone();
    let (other, _threads) = mkoba::app::App::start(config, clock).unwrap();
    env.clock.advance_seconds(61);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (posted, expired) = runtime.block_on(async {
        let (a, b) = tokio::join!(env.app.post_closed_sends(100), other.post_closed_sends(100));
        let (c, d) = tokio::join!(env.app.sweep_expired(100), other.sweep_expired(100));
        (a.unwrap() + b.unwrap(), c.unwrap() + d.unwrap())
    });
    assert_eq!(
        (posted, expired),
        (20, 20),
        "each done once between the two processes"
    );
    let sent: i64 = (0..20).map(|i| 1_000 + i).sum();
    assert_eq!(env.balance(bob), sent);
    assert_eq!(
        env.available(alice),
        env.balance(alice),
        "no reservation left behind"
    );
    env.assert_reconciles();
}

fn adjustments_move_money_through_suspense(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier0);
    let suspense = env.system().suspense;
    env.submit(TxnKind::Deposit, float, alice, 10_000);
    // An operator correction: the wallet is credited from suspense, ignoring tier limits but not
    // floors, and a journal entry records it (nothing is edited).
    let credit = env.submit(TxnKind::Adjustment, suspense, alice, 15_000_000);
    assert!(
        matches!(credit, Outcome::Accepted(_)),
        "adjustments are exempt from tier limits: {credit:?}"
    );
    assert_eq!(env.balance(alice), 15_010_000);
    assert_eq!(env.balance(suspense), -15_000_000);
    let too_much = env.submit(TxnKind::Adjustment, alice, suspense, 15_010_001);
    assert_eq!(
        too_much.rejection(),
        Some(Rejection::InsufficientFunds),
        "but never below a floor"
    );
    assert!(matches!(
        env.submit(TxnKind::Adjustment, alice, suspense, 15_000_000),
        Outcome::Accepted(_)
    ));
    assert_eq!(env.balance(suspense), 0);
    env.assert_reconciles();
}

/// A journal touching accounts in every way a statement must show or hide: commission legs,
/// fee legs (two postings of one transaction on the payer), reservations that post or void,
/// and a merchant payment. Returns the accounts to look at.
fn mixed_journal(env: &TestEnv) -> Vec<mkoba_ledger::AccountId> {
    let (float, commission) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    let shop = env.merchant("SHOP1");
    for i in 1..=3 {
        accepted(&env.submit(TxnKind::Deposit, float, alice, i * 10_000));
    }
    for i in 1..=4 {
        accepted(&env.submit(TxnKind::Transfer, alice, bob, i * 1_000));
    }
    let hold = |minor| {
        let mut send = env.request(TxnKind::Transfer, alice, bob, minor);
        send.pending_expiry_seconds = Some(3_600);
        accepted(&env.run(Command::Submit(send))).txn_id
    };
    let voided = hold(2_500);
    accepted(&env.run(Command::VoidPending {
        idempotency_key: env.next_key(),
        pending: voided,
        reason: VoidReason::Cancelled,
    }));
    let posted = hold(3_500);
    accepted(&env.run(Command::PostPending {
        idempotency_key: env.next_key(),
        pending: posted,
        amount_minor: None,
    }));
    accepted(&env.submit(TxnKind::MerchantPayment, bob, shop, 1_200));
    accepted(&env.submit(TxnKind::Transfer, bob, alice, 700));
    vec![
        alice,
        bob,
        float,
        commission,
        shop,
        env.system().fee_revenue,
    ]
}

/// (transaction, leg, signed amount) of every posted line on `account`, worked out from the
/// whole journal without the chains: newest transaction first, money out before money in, last
/// leg first.
fn journal_lines(env: &TestEnv, account: i64) -> Vec<(i64, String, i64)> {
    use diesel::prelude::*;
    use mkoba::store::schema::postings;
    use std::cmp::Reverse;
    let mut conn = env.conn();
    let rows: Vec<(i64, i16, String, i64, i64, i64, bool)> = mkoba::with_conn!(&mut *conn, |c| {
        postings::table
            .select((
                postings::transaction_id,
                postings::seq,
                postings::leg,
                postings::debit_account_id,
                postings::credit_account_id,
                postings::amount_minor,
                postings::reservation,
            ))
            .load(c)
    })
    .unwrap();
    let mut lines: Vec<_> = rows
        .into_iter()
        .filter(|r| !r.6 && (r.3 == account || r.4 == account))
        .map(|(txn, seq, leg, debit, _, amount, _)| {
            let out = debit == account;
            let signed = if out { -amount } else { amount };
            ((Reverse(txn), !out, Reverse(seq)), (txn, leg, signed))
        })
        .collect();
    lines.sort_by_key(|(order, _)| *order);
    lines.into_iter().map(|(_, line)| line).collect()
}

fn statement_lines(
    env: &TestEnv,
    account: i64,
    before: Option<i64>,
    limit: i64,
) -> Vec<(i64, String, i64)> {
    reads::statement(&mut env.conn(), account, before, limit)
        .unwrap()
        .into_iter()
        .map(|l| (l.transaction_id, l.leg, l.amount_minor))
        .collect()
}

fn statements_follow_each_accounts_chain(backend: Backend) {
    let env = TestEnv::start(backend);
    let accounts = mixed_journal(&env);
    env.assert_reconciles();
    let newest = env.journal_size().0 + 2;
    for account in accounts {
        let all = journal_lines(&env, account.0);
        assert!(!all.is_empty(), "account {} has lines", account.0);
        assert_eq!(statement_lines(&env, account.0, None, 1_000), all);
        // Every cursor: a transaction on the chain, one just above it (the portal's), and
        // values on no chain at all (found by walking from the head).
        for before in 0..=newest {
            for limit in [1, 3] {
                let expected: Vec<_> = all
                    .iter()
                    .filter(|l| l.0 < before)
                    .take(limit)
                    .cloned()
                    .collect();
                assert_eq!(
                    statement_lines(&env, account.0, Some(before), i64::try_from(limit).unwrap()),
                    expected,
                    "account {} before {before} limit {limit}",
                    account.0
                );
            }
        }
    }
}

fn broken_chains_are_reported_and_never_extended(backend: Backend) {
    let env = TestEnv::start(backend);
    let accounts = mixed_journal(&env);
    let (alice, bob) = (accounts[0], accounts[1]);
    let run_sql = |sql: &str| {
        let mut conn = env.conn();
        mkoba::with_conn!(&mut *conn, |c| c.batch_execute(sql)).unwrap();
    };
    let mismatches = || {
        mkoba::store::reconcile::run(&mut env.conn())
            .unwrap()
            .mismatches
    };

    // A head that is not the account's newest transaction is reported...
    run_sql(&format!(
        "UPDATE accounts SET last_transaction_id = NULL WHERE id = {}",
        bob.0
    ));
    let found = mismatches();
    assert!(
        found
            .iter()
            .any(|m| m.contains("1 accounts do not name their newest transaction")),
        "{found:?}"
    );
    // ...and a head ahead of the journal stops the writer: the chain never goes forward.
    run_sql(&format!(
        "UPDATE accounts SET last_transaction_id = 1000000000000 WHERE id = {}",
        alice.0
    ));
    let size = env.journal_size();
    let refused = env.app.writer.submit_blocking(Command::Submit(env.request(
        TxnKind::Transfer,
        alice,
        bob,
        100,
    )));
    assert!(
        format!("{refused:?}").contains("would go behind"),
        "{refused:?}"
    );
    assert_eq!(env.journal_size(), size, "nothing was written");

    // A posting linked to the wrong transaction is reported (the guard lifted to break it).
    let unguard = match backend {
        Backend::Sqlite => "DROP TRIGGER postings_no_update;",
        Backend::Postgres => "ALTER TABLE postings DISABLE TRIGGER postings_append_only;",
    };
    run_sql(&format!(
        "{unguard} UPDATE postings SET debit_prev_txn = NULL WHERE debit_account_id = {} \
         AND debit_prev_txn IS NOT NULL",
        alice.0
    ));
    let found = mismatches();
    assert!(
        found
            .iter()
            .any(|m| m.contains("postings link to the wrong previous transaction")),
        "{found:?}"
    );
}

/// A long read (a reconciliation, a backup) keeps SQLite from restarting its log, so the log file
/// grows past the writer's checkpoint size; once the read ends, the writer's next restart cuts
/// the file back to that size instead of keeping the disk for the life of the process.
#[test]
fn sqlite_log_grown_by_a_long_read_is_cut_back_after_it() {
    const PAGES: u32 = 1_024;
    let limit = u64::from(PAGES) * 4_096;
    let env = TestEnv::start_with(Backend::Sqlite, |c| {
        c.ledger.sqlite_writer_checkpoint_pages = PAGES;
    });
    let mkoba::store::DatabaseUrl::Sqlite(path) = env.db.url.clone() else {
        unreachable!("a SQLite test database")
    };
    let log = std::path::PathBuf::from(format!("{}-wal", path.display()));
    let log_bytes = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let (float, _) = env.agent("AG1", 1_000_000_000);
    let alice = env.customer("+254700100001", Tier::Tier2);

    let mut reader = env.db.connect();
    mkoba::with_conn!(&mut reader, |c| c
        .batch_execute("BEGIN; SELECT count(*) FROM accounts;"))
    .unwrap();
    let mut grown = 0;
    while log_bytes() <= 2 * limit {
        accepted(&env.submit(TxnKind::Deposit, float, alice, 5_000));
        grown += 1;
        assert!(grown < 20_000, "the log stayed at {} bytes", log_bytes());
    }
    mkoba::with_conn!(&mut reader, |c| c.batch_execute("COMMIT;")).unwrap();
    drop(reader);

    let mut after = 0;
    while log_bytes() > limit {
        accepted(&env.submit(TxnKind::Deposit, float, alice, 5_000));
        after += 1;
        assert!(
            after < 5_000,
            "the log is still {} bytes, over the {limit}-byte limit",
            log_bytes()
        );
    }
    assert_eq!(env.balance(alice), 5_000 * (grown + after));
    env.assert_reconciles();
}

/// The SQLite writer's copy of the accounts it loaded (`store::account_cache`) holds only while
/// nothing else wrote: another writer's batch, a freeze, a KYC tier or a blacklisting each end
/// it. A change it cannot see (a balance or chain head edited behind the ledger's back) trips the
/// conditional update, and the batch is decided again from the database alone: a balance edit
/// gives the stored balance, a head ahead of the journal still stops the writer.
#[test]
fn sqlite_the_writers_copy_of_accounts_holds_only_while_nothing_else_wrote() {
    use mkoba::store::account_cache::{read_generation, AccountCache};
    use mkoba::store::batch::run_batch_as;
    use mkoba::store::batch::WriterMemory;
    use mkoba::store::AnyConnection;

    let env = TestEnv::start(Backend::Sqlite);
    let (float, _) = env.agent("AG1", 1_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    // This connection and copy play a second writer process beside the app's writer.
    let mut conn = env.db.connect();
    let mut memory = WriterMemory::new(1_024);
    let send = |conn: &mut AnyConnection, memory: &mut WriterMemory, minor: i64| {
        let command = Command::Submit(env.request(TxnKind::Transfer, alice, bob, minor));
        let now = mkoba::store::writer::Clock::now(&*env.clock);
        run_batch_as(
            conn,
            &env.app.ledger,
            0,
            now,
            &[command],
            &[true],
            Some(memory),
        )
        .map(|mut outcomes| outcomes.pop().expect("one outcome"))
    };
    let generation = |conn: &mut AnyConnection| match conn {
        AnyConnection::Sqlite(c) => read_generation(c).unwrap(),
        AnyConnection::Postgres(_) => unreachable!("SQLite"),
    };
    let holds = |conn: &mut AnyConnection, copy: &mut AccountCache| {
        let now = generation(conn);
        copy.check(now);
        !copy.is_empty()
    };

    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert!(
        memory.accounts.len() >= 3,
        "alice, bob, fee revenue: {:?}",
        memory.accounts
    );
    assert!(holds(&mut conn, &mut memory.accounts), "nothing else wrote");
    let kept = memory.accounts.get(alice).unwrap().state.balance_minor;
    assert_eq!(kept, env.balance(alice));
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert_eq!(
        memory.accounts.get(alice).unwrap().state.balance_minor,
        env.balance(alice),
        "the copy follows its own batches"
    );

    // Another writer's batch moves the counter.
    let before = generation(&mut conn);
    env.submit(TxnKind::Transfer, alice, bob, 2_000);
    assert!(generation(&mut conn) > before);
    assert!(!holds(&mut conn, &mut memory.accounts));
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert_eq!(
        memory.accounts.get(alice).unwrap().state.balance_minor,
        env.balance(alice),
        "reloaded after the other writer's batch"
    );

    // Changes to an account's other columns move it through the trigger.
    assert!(parties::set_status(&mut env.conn(), alice, AccountStatus::Frozen).unwrap());
    assert!(
        !holds(&mut conn, &mut memory.accounts),
        "a freeze ends the copy"
    );
    assert_eq!(
        send(&mut conn, &mut memory, 1_000).unwrap().rejection(),
        Some(Rejection::AccountFrozen)
    );
    assert!(parties::set_status(&mut env.conn(), alice, AccountStatus::Active).unwrap());
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert!(parties::set_blacklisted(&mut env.conn(), bob, true).unwrap());
    assert!(
        !holds(&mut conn, &mut memory.accounts),
        "a blacklisting ends the copy"
    );
    // (A blacklisting blocks reversals, not transfers.)
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert!(
        memory.accounts.get(bob).unwrap().state.blacklisted,
        "read afresh"
    );
    assert!(parties::set_blacklisted(&mut env.conn(), bob, false).unwrap());
    assert!(!holds(&mut conn, &mut memory.accounts));
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert!(!memory.accounts.get(bob).unwrap().state.blacklisted);
    mkoba::with_conn!(&mut *env.conn(), |c| c.batch_execute(&format!(
        "UPDATE accounts SET tier = 2 WHERE id = {}",
        alice.0
    )))
    .unwrap();
    assert!(
        !holds(&mut conn, &mut memory.accounts),
        "a tier change ends the copy"
    );
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert_eq!(memory.accounts.get(alice).unwrap().state.tier, Tier::Tier2);

    // A balance edited behind the ledger's back (a tool, not the ledger) is not seen by the
    // counter; the batch's conditional update refuses it, and the batch runs again from the
    // database alone: decided on the stored balance, never on the copy's.
    assert!(holds(&mut conn, &mut memory.accounts));
    let size = env.journal_size();
    let balance = env.balance(alice);
    let edit = |minor: i64| {
        mkoba::with_conn!(&mut *env.conn(), |c| c.batch_execute(&format!(
            "UPDATE accounts SET balance_minor = {minor} WHERE id = {}",
            alice.0
        )))
        .unwrap()
    };
    edit(balance - 500);
    assert_eq!(
        memory.accounts.get(alice).unwrap().state.balance_minor,
        balance
    );
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert_eq!(env.balance(alice), balance - 1_500);
    assert_eq!(
        memory.accounts.get(alice).unwrap().state.balance_minor,
        balance - 1_500
    );
    assert_eq!(
        env.journal_size().0,
        size.0 + 1,
        "one transaction, written once"
    );
    // The same for a chain head: the batch reads afresh and links to the stored head.
    let head = memory.accounts.get(bob).unwrap().head;
    mkoba::with_conn!(&mut *env.conn(), |c| c.batch_execute(&format!(
        "UPDATE accounts SET last_transaction_id = 1000000000000 WHERE id = {}",
        bob.0
    )))
    .unwrap();
    let refused = send(&mut conn, &mut memory, 1_000);
    assert!(
        format!("{refused:?}").contains("would go behind"),
        "{refused:?}"
    );
    assert!(memory.accounts.is_empty(), "a failed batch drops the copy");
    mkoba::with_conn!(&mut *env.conn(), |c| c.batch_execute(&format!(
        "UPDATE accounts SET last_transaction_id = {} WHERE id = {}",
        head.unwrap(),
        bob.0
    )))
    .unwrap();
    // Undo the tool's balance edit, so that the books reconcile again.
    edit(balance - 1_000);
    accepted(&send(&mut conn, &mut memory, 1_000).unwrap());
    assert_eq!(env.balance(alice), balance - 2_000);
    drop(conn);
    env.assert_reconciles();
}
