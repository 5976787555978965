//! Many writers on one PostgreSQL: 8 client threads drive 20,000 transfers among 1,000 accounts
//! (one of them a hot agent float) through 4 independent ledger writers — as 4 `mkoba` processes
//! would — with 2 writer threads each, each thread crediting its own fee revenue shard. Afterwards every invariant holds, no balance went below
//! its floor, and every accepted transaction is in the journal exactly once.

use std::collections::HashSet;
use std::sync::Arc;

use mkoba::store::batch::LedgerContext;
use mkoba::store::writer::{LedgerWriter, WriterConfig};
use mkoba::store::{Backend, ConnectionOptions};
use mkoba_ledger::{AccountId, Command, Currency, Outcome, Tier, TxnCodes, TxnKind};
use rand::{Rng, SeedableRng};

use crate::support::TestEnv;

const CLIENT_THREADS: usize = 8;
const TRANSFERS: usize = 20_000;
const WALLETS: usize = 999; // plus the hot agent float: 1,000 accounts
const WRITERS: usize = 4;

#[test]
fn postgres_many_writers_keep_every_invariant() {
    let env = TestEnv::start(Backend::Postgres);
    let (hot_float, _) = env.agent("HOT", 1_000_000_000);
    let wallets: Vec<AccountId> = (0..WALLETS)
        .map(|i| env.customer(&format!("+2547{:08}", 10_000_000 + i), Tier::Tier2))
        .collect();
    for wallet in &wallets {
        assert!(matches!(
            env.submit(TxnKind::Deposit, hot_float, *wallet, 500_000),
            Outcome::Accepted(_)
        ));
    }
    let setup_transactions = env.journal_size().0;

    let options = ConnectionOptions {
        url: env.db.url.clone(),
        busy_timeout_ms: 5_000,
        statement_timeout_ms: 60_000,
        sqlite_mmap_kib: mkoba::store::db::SQLITE_MMAP_KIB_DEFAULT,
    };
    // Each writer thread credits fees to its own fee revenue shard, as `mkoba` does with more
    // than one writer thread; thread i of every process shares shard i.
    let shards = {
        let mut conn = mkoba::store::checkout(&env.app.pool).unwrap();
        let shards =
            mkoba::store::parties::fee_revenue_shards(&mut conn, Currency::KES, 2).unwrap();
        let again = mkoba::store::parties::fee_revenue_shards(&mut conn, Currency::KES, 2).unwrap();
        assert_eq!(shards, again, "shards are found, not created twice");
        shards
    };
    assert_eq!(
        shards.first(),
        env.app.ledger.fee_revenue.get(&Currency::KES)
    );
    let writers: Vec<LedgerWriter> = (0..WRITERS)
        .map(|_| {
            let mut ctx = LedgerContext::new(
                env.app.config.ledger.rules.clone(),
                TxnCodes::new(env.app.config.ledger.code_key),
                env.app.ledger.fee_revenue.clone(),
                true,
            );
            ctx.fee_revenue_shards.insert(Currency::KES, shards.clone());
            let ctx = Arc::new(ctx);
            let config = WriterConfig {
                threads: 2,
                batch_max: 200,
                queue_max: 10_000,
                reply_timeout_ms: 120_000,
                reconnect_backoff_ms: 50,
                checkpoint_interval_ms: 50,
                sqlite_checkpoint_pages: 8_192,
                account_cache_max: 1_024,
                sqlite_cache_kib: 16_384,
            };
            let (writer, _threads) =
                LedgerWriter::start(options.clone(), ctx, Arc::clone(&env.clock) as _, config)
                    .unwrap();
            writer
        })
        .collect();

    let per_thread = TRANSFERS / CLIENT_THREADS;
    let results: Vec<Vec<(String, Outcome)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENT_THREADS)
            .map(|t| {
                let writer = writers[t % WRITERS].clone();
                let wallets = &wallets;
                scope.spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
                    let mut out = Vec::with_capacity(per_thread);
                    for i in 0..per_thread {
                        let a = wallets[rng.gen_range(0..wallets.len())];
                        let b = wallets[rng.gen_range(0..wallets.len())];
                        let amount = rng.gen_range(100..800_000);
                        let (kind, debit, credit) = match rng.gen_range(0..10) {
                            0..=3 => (TxnKind::Deposit, hot_float, a),
                            4 => (TxnKind::Withdrawal, a, hot_float),
                            _ => (TxnKind::Transfer, a, if a == b { wallets[0] } else { b }),
                        };
                        let key = format!("c{t}-{i}");
                        let request =
                            crate::support::request_with_key(&key, kind, debit, credit, amount);
                        // A client retry now and then: the same key must never post twice.
                        let retries = if i % 97 == 0 { 2 } else { 1 };
                        let mut outcome = None;
                        for _ in 0..retries {
                            outcome = Some(
                                writer
                                    .submit_blocking(Command::Submit(request.clone()))
                                    .unwrap(),
                            );
                        }
                        out.push((key, outcome.unwrap()));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    drop(writers);

    let mut accepted = HashSet::new();
    let mut rejected: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (key, outcome) in results.iter().flatten() {
        match outcome {
            Outcome::Accepted(r) | Outcome::Replayed(r) => {
                assert!(
                    accepted.insert(r.txn_id),
                    "{key}: transaction {:?} acknowledged twice",
                    r.txn_id
                );
            }
            Outcome::Rejected(r) => *rejected.entry(r.name()).or_default() += 1,
        }
    }
    assert!(
        accepted.len() > TRANSFERS / 2,
        "most transfers should succeed: {} of {TRANSFERS}",
        accepted.len()
    );
    assert!(
        rejected.contains_key("insufficient_funds"),
        "the workload must hit floors too: {rejected:?}"
    );
    let (transactions, _) = env.journal_size();
    // The journal holds the set-up and every distinct accepted transaction, nothing else.
    assert_eq!(transactions, setup_transactions + accepted.len() as i64);
    for wallet in wallets.iter().chain([&hot_float]) {
        assert!(env.available(*wallet) >= 0, "{wallet:?} went below zero");
    }
    for shard in &shards {
        assert!(
            env.balance(*shard) > 0,
            "fee revenue shard {shard:?} took no fees"
        );
    }
    env.assert_reconciles();
    eprintln!(
        "concurrency: {} accepted, rejected {rejected:?}",
        accepted.len()
    );
}
