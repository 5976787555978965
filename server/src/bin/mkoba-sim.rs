//! `mkoba-sim`: deterministic simulation of the ledger and its store (after TigerBeetle's VOPR).
//!
//! A seeded generator drives random operations — transfers, cash-ins and cash-outs, merchant
//! payments, float issuance, pending transfers posted in full or in part, voided and expired,
//! reversals, refunds, allowance charges, amounts on every limit edge, retries with the same key,
//! keys reused for other requests, frozen accounts, time jumps over expiries and days — through
//! the real batch code (`run_batch_as`) on a real database (SQLite, or PostgreSQL), with two
//! connections taking turns as two writers would, each keeping what a writer thread keeps between
//! batches (its copy of accounts; on SQLite, keys assumed new). Each batch may meet an injected
//! store failure: an error after the rows are locked, an error or a killed connection just before
//! commit, an answer lost after the commit, a connection killed between batches (PostgreSQL), the
//! database locked by another connection (SQLite). Failed batches are retried with the same keys,
//! whole or one command per transaction, as the writer and API clients do.
//!
//! The same commands run through the in-memory reference ledger (`MemoryLedger`). After every
//! batch the store must agree with it outcome for outcome and account for account, money must be
//! conserved and no balance may sit below its floor; every `--check-every` batches and at the end
//! the store's journal is reconciled against its balances. Any failure prints the seed and the
//! command that replays it exactly; the printed digest is the same on every run of a seed.
//!
//! cargo run --release --bin mkoba-sim -- --seed 1 --ops 1000000
//! cargo run --release --bin mkoba-sim -- --url postgres://postgres@127.0.0.1:5432/postgres --ops 20000

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::{anyhow, bail, ensure, Context};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mkoba::merchant::store::{create_allowance, Created, KnownCustomer, NewAllowance};
use mkoba::store::batch::{run_batch_as, FaultPoint, LedgerContext, WriterMemory};
use mkoba::store::parties::{self, AgentRole, NewAgent, NewCustomer};
use mkoba::store::rows::AccountRow;
use mkoba::store::schema::{accounts, allowances, pending_transfers, transactions};
use mkoba::store::{reconcile, AnyConnection, ConnectionOptions, DatabaseUrl, StoreError};
use mkoba::with_conn;
use mkoba_ledger::memory::MemoryLedger;
use mkoba_ledger::rules::CurrencyRules;
use mkoba_ledger::{
    AccountId, AccountState, AccountStatus, AllowanceId, AllowanceState, Command, Currency,
    LedgerRules, Money, Outcome, PendingStatus, Receipt, Tier, Timestamp, TxnCodes, TxnId, TxnKind,
    TxnRequest, VoidReason,
};
use sha2::{Digest, Sha256};

#[derive(Parser, Clone)]
struct Args {
    /// `sqlite` (a fresh file in a temporary directory) or a PostgreSQL URL whose server gets a
    /// fresh database per seed (dropped afterwards).
    #[arg(long, default_value = "sqlite")]
    url: String,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many seeds to run, from `--seed` up.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Operations (commands generated) per seed.
    #[arg(long, default_value_t = 10_000)]
    ops: u64,
    /// Chance, in thousandths, that a batch attempt meets a store fault.
    #[arg(long, default_value_t = 60)]
    fault_permille: u64,
    /// Reconcile the whole store against its journal every this many batches.
    #[arg(long, default_value_t = 250)]
    check_every: u64,
    /// Self-test of the checks: at this step, add one minor unit to a wallet behind the
    /// ledger's back. The run must then fail and print its seed.
    #[arg(long)]
    corrupt_at_step: Option<u64>,
}

/// SplitMix64: tiny, fast and the same on every platform and crate version, so a seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        let n = u64::try_from(n.max(1)).unwrap_or(u64::MAX);
        usize::try_from(self.next() % n).unwrap_or(0)
    }

    fn permille(&mut self, p: u64) -> bool {
        self.next() % 1_000 < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let i = self.below(items.len());
        items.get(i).copied()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// An error once the batch's rows are loaded and locked.
    LoadError,
    /// An error after every write, before the commit.
    CommitError,
    /// PostgreSQL: the batch's own connection is terminated just before its commit.
    KillMidCommit,
    /// PostgreSQL: the writer's connection is terminated between batches.
    KillBetween,
    /// SQLite: another connection holds the write lock, so the batch cannot begin.
    Locked,
    /// The batch commits but the caller hears an error instead of the outcomes.
    AckLost,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::LoadError => "error_after_load",
            Fault::CommitError => "error_before_commit",
            Fault::KillMidCommit => "connection_killed_before_commit",
            Fault::KillBetween => "connection_killed_between_batches",
            Fault::Locked => "database_locked",
            Fault::AckLost => "answer_lost_after_commit",
        }
    }

    fn commits(self) -> bool {
        self == Fault::AckLost
    }
}

struct World {
    issuance: AccountId,
    agents: Vec<AccountId>,
    wallets: Vec<AccountId>,
    merchants: Vec<AccountId>,
    allowances: Vec<AllowanceId>,
}

#[derive(Default)]
struct Stats {
    ops: u64,
    batches: u64,
    attempts: u64,
    accepted: u64,
    replayed: u64,
    rejected: BTreeMap<&'static str, u64>,
    faults: BTreeMap<&'static str, u64>,
    status_changes: u64,
    time_jumps: u64,
    step_checks: u64,
    reconciliations: u64,
}

/// `2026-01-05 07:00:00 UTC`: a Monday morning in Nairobi.
const T0_SECONDS: i64 = 1_767_596_400;
/// Ids that never exist on either side, for "not found" commands.
const MISSING_ID: i64 = 9_000_000_000_000;

struct Sim {
    seed: u64,
    args: Args,
    rng: Rng,
    postgres: bool,
    options: ConnectionOptions,
    conns: [Option<AnyConnection>; 2],
    /// What each writer keeps between its batches, as the server's writer threads do: its copy
    /// of accounts (one roomy, one small enough to start afresh often) and whether it assumes
    /// keys new (SQLite). The other writer's batches and the simulation's own account changes
    /// must end a copy; replays and reused keys must be found either way.
    memories: [WriterMemory; 2],
    backend_pids: [i32; 2],
    admin: Option<diesel::PgConnection>,
    locker: Option<AnyConnection>,
    ctx: Arc<LedgerContext>,
    armed: Arc<Mutex<Option<Fault>>>,
    model: MemoryLedger,
    rules: CurrencyRules,
    key_len_max: usize,
    edges: Vec<i64>,
    world: World,
    now: Timestamp,
    keys: u64,
    /// Model transaction id → the store's id for the same transaction.
    ids: HashMap<TxnId, TxnId>,
    /// Recent commands as sent to (model, store), for retries.
    history: Vec<(Command, Command)>,
    /// Recent pending transfers (model id, amount).
    pendings: Vec<(TxnId, i64)>,
    /// Recent accepted transactions (model ids), for reversals and refunds.
    txns: Vec<TxnId>,
    stats: Stats,
    digest: Sha256,
    step: u64,
}

fn push_bounded<T>(list: &mut Vec<T>, item: T, max: usize) {
    if list.len() >= max {
        list.remove(0);
    }
    list.push(item);
}

/// Amounts worth trying: zero, negatives, one unit, every minimum, band and tier-limit edge.
fn edge_amounts(rules: &CurrencyRules) -> Vec<i64> {
    let mut edges = vec![-1, 0, 1, 2, 99, 100, 101];
    for max in [rules.amount_max_minor, rules.operator_amount_max_minor] {
        edges.extend([max - 1, max, max + 1]);
    }
    for min in rules.minimums_minor.values() {
        edges.extend([min - 1, *min, min + 1]);
    }
    for tier in &rules.tiers {
        for limit in [
            tier.per_transaction_minor,
            tier.daily_debits_minor,
            tier.balance_minor,
        ] {
            edges.extend([limit - 1, limit, limit + 1]);
        }
    }
    let t = &rules.tariffs;
    for bands in [
        &t.send,
        &t.withdraw,
        &t.commission_deposit,
        &t.commission_withdrawal,
    ] {
        for band in &bands.0 {
            edges.extend([
                band.from_minor - 1,
                band.from_minor,
                band.to_minor,
                band.to_minor + 1,
            ]);
        }
    }
    edges.sort_unstable();
    edges.dedup();
    edges
}

fn with_key(command: &Command, key: String) -> Command {
    let mut command = command.clone();
    match &mut command {
        Command::Submit(r) => r.idempotency_key = key,
        Command::PostPending {
            idempotency_key, ..
        }
        | Command::VoidPending {
            idempotency_key, ..
        }
        | Command::Reverse {
            idempotency_key, ..
        }
        | Command::Refund {
            idempotency_key, ..
        }
        | Command::Charge {
            idempotency_key, ..
        } => *idempotency_key = key,
    }
    command
}

/// The same command with a defining field changed (for "key reused for another request").
fn changed(command: &Command) -> Command {
    let mut command = command.clone();
    match &mut command {
        Command::Submit(r) => r.memo.push('!'),
        Command::PostPending { amount_minor, .. } => {
            *amount_minor = Some(amount_minor.map_or(1, |a| a.wrapping_add(1)));
        }
        Command::VoidPending { reason, .. } => {
            *reason = match reason {
                VoidReason::Cancelled => VoidReason::Expired,
                VoidReason::Expired => VoidReason::Cancelled,
            };
        }
        Command::Reverse { memo, .. }
        | Command::Refund { memo, .. }
        | Command::Charge { memo, .. } => memo.push('!'),
    }
    command
}

impl Sim {
    fn new(args: &Args, seed: u64, url: DatabaseUrl) -> anyhow::Result<Sim> {
        let postgres = matches!(url, DatabaseUrl::Postgres(_));
        let options = ConnectionOptions {
            url: url.clone(),
            // Short, so that a held write lock fails a SQLite batch at once.
            busy_timeout_ms: 20,
            statement_timeout_ms: 30_000,
            sqlite_mmap_kib: mkoba::store::db::SQLITE_MMAP_KIB_DEFAULT,
        };
        options
            .migrate()
            .context("migrating the simulation database")?;
        let ledger_rules = LedgerRules::kenya_defaults();
        let rules = ledger_rules
            .currencies
            .get(&Currency::KES)
            .cloned()
            .context("KES rules")?;
        let mut conn = options.connect()?;
        let (world, fee_revenue) = setup(&mut conn, T0_SECONDS)?;
        let accounts = load_accounts(&mut conn)?;
        let allowance_states = load_allowances(&mut conn)?;
        let model = MemoryLedger::from_state(
            ledger_rules.clone(),
            accounts,
            allowance_states,
            fee_revenue.clone(),
        );
        let mut ctx = LedgerContext::new(
            ledger_rules.clone(),
            TxnCodes::new(0x6d6b_6f62_6121),
            fee_revenue,
            true,
        );
        let armed: Arc<Mutex<Option<Fault>>> = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&armed);
        ctx.faults = Some(Arc::new(move |point, conn| {
            let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            let fire = matches!(
                (*slot, point),
                (Some(Fault::LoadError), FaultPoint::AfterLoad)
                    | (
                        Some(Fault::CommitError | Fault::KillMidCommit),
                        FaultPoint::BeforeCommit
                    )
                    | (Some(Fault::AckLost), FaultPoint::AfterCommit)
            );
            if !fire {
                return Ok(());
            }
            let fault = slot.take();
            if fault == Some(Fault::KillMidCommit) {
                // A real lost connection: the batch's own backend is terminated mid-transaction.
                if let AnyConnection::Postgres(c) = conn {
                    c.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")?;
                }
            }
            Err(StoreError::Io(format!(
                "injected fault: {}",
                fault.map_or("?", Fault::name)
            )))
        }));
        let admin = match &url {
            DatabaseUrl::Postgres(u) => Some(diesel::PgConnection::establish(u)?),
            DatabaseUrl::Sqlite(_) => None,
        };
        let locker = match &url {
            DatabaseUrl::Sqlite(_) => Some(options.connect()?),
            DatabaseUrl::Postgres(_) => None,
        };
        let mut sim = Sim {
            seed,
            args: args.clone(),
            rng: Rng(seed),
            postgres,
            options,
            conns: [Some(conn), None],
            memories: [WriterMemory::new(65_536), WriterMemory::new(64)],
            backend_pids: [0, 0],
            admin,
            locker,
            ctx: Arc::new(ctx),
            armed,
            model,
            edges: edge_amounts(&rules),
            rules,
            key_len_max: ledger_rules.idempotency_key_len_max,
            world,
            now: Timestamp(T0_SECONDS * Timestamp::MICROS_PER_SECOND),
            keys: 0,
            ids: HashMap::new(),
            history: Vec::new(),
            pendings: Vec::new(),
            txns: Vec::new(),
            stats: Stats::default(),
            digest: Sha256::new(),
            step: 0,
        };
        sim.backend_pids[0] = sim.backend_pid(0)?;
        sim.opening()?;
        Ok(sim)
    }

    fn backend_pid(&mut self, writer: usize) -> anyhow::Result<i32> {
        #[derive(QueryableByName)]
        struct Pid {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        match self.conns.get_mut(writer).and_then(Option::as_mut) {
            Some(AnyConnection::Postgres(c)) => {
                let rows: Vec<Pid> = diesel::sql_query("SELECT pg_backend_pid() AS pid").load(c)?;
                rows.first().map(|r| r.pid).context("no backend pid")
            }
            _ => Ok(0),
        }
    }

    fn connection(&mut self, writer: usize) -> anyhow::Result<&mut AnyConnection> {
        let missing = self.conns.get(writer).is_some_and(Option::is_none);
        if missing {
            let conn = self.options.connect()?;
            if let Some(slot) = self.conns.get_mut(writer) {
                *slot = Some(conn);
            }
            let pid = self.backend_pid(writer)?;
            if let Some(slot) = self.backend_pids.get_mut(writer) {
                *slot = pid;
            }
        }
        self.conns
            .get_mut(writer)
            .and_then(Option::as_mut)
            .context("no connection")
    }

    fn key(&mut self) -> String {
        self.keys += 1;
        format!("s{}-{}", self.seed, self.keys)
    }

    fn amount(&mut self) -> i64 {
        let per_txn = self
            .rules
            .tiers
            .first()
            .map_or(100_000, |t| t.per_transaction_minor);
        match self.rng.below(10) {
            0..=2 => self.rng.pick(&self.edges).unwrap_or(1),
            3..=6 => per_txn / 1_000 * i64::try_from(self.rng.below(120)).unwrap_or(0),
            _ => 1 + i64::try_from(self.rng.below(20_000)).unwrap_or(0),
        }
    }

    fn expiry(&mut self) -> Option<i64> {
        match self.rng.below(12) {
            0 => Some(60),
            1 => Some(3_600),
            2 => self.rng.pick(&[-1, 0, 86_400, 8 * 86_400]),
            _ => None,
        }
    }

    fn submit(
        &mut self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        minor: i64,
    ) -> Command {
        let expiry = if matches!(kind, TxnKind::FloatIssuance) {
            None
        } else {
            self.expiry()
        };
        Command::Submit(TxnRequest {
            idempotency_key: self.key(),
            kind,
            debit,
            credit,
            amount: Money::from_minor(minor, Currency::KES),
            memo: String::new(),
            metadata: String::new(),
            pending_expiry_seconds: expiry,
        })
    }

    fn store_id(&self, model: TxnId) -> TxnId {
        self.ids.get(&model).copied().unwrap_or(model)
    }

    /// The command as the store must see it: model transaction ids become the store's.
    fn for_store(&self, command: &Command) -> Command {
        let mut command = command.clone();
        match &mut command {
            Command::PostPending { pending, .. } | Command::VoidPending { pending, .. } => {
                *pending = self.store_id(*pending);
            }
            Command::Reverse { original, .. } | Command::Refund { original, .. } => {
                *original = self.store_id(*original);
            }
            Command::Submit(_) | Command::Charge { .. } => {}
        }
        command
    }

    fn pick_pending(&mut self) -> (TxnId, i64) {
        if self.pendings.is_empty() || self.rng.permille(100) {
            return (TxnId(MISSING_ID + self.keys as i64), 1_000);
        }
        self.rng
            .pick(&self.pendings)
            .unwrap_or((TxnId(MISSING_ID), 1))
    }

    fn pick_txn(&mut self) -> TxnId {
        if self.txns.is_empty() || self.rng.permille(80) {
            return TxnId(MISSING_ID + 1 + self.keys as i64);
        }
        self.rng.pick(&self.txns).unwrap_or(TxnId(MISSING_ID))
    }

    /// One generated operation: a command for the batch being built, or `None` after acting
    /// between batches (time, statuses).
    fn operation(&mut self, batch: &mut Vec<(Command, Command)>) -> anyhow::Result<()> {
        let w = &self.world;
        let (wallets, agents, merchants, allowances) = (
            w.wallets.clone(),
            w.agents.clone(),
            w.merchants.clone(),
            w.allowances.clone(),
        );
        let issuance = w.issuance;
        let wallet = |rng: &mut Rng| rng.pick(&wallets).unwrap_or(AccountId(0));
        let agent = |rng: &mut Rng| rng.pick(&agents).unwrap_or(AccountId(0));
        let command = match self.rng.below(100) {
            0..=2 => {
                let minor = self.rules.amount_max_minor / 1_000
                    * i64::try_from(self.rng.below(1_001)).unwrap_or(0);
                let to = agent(&mut self.rng);
                self.submit(TxnKind::FloatIssuance, issuance, to, minor)
            }
            3..=16 => {
                let (from, to, minor) =
                    (agent(&mut self.rng), wallet(&mut self.rng), self.amount());
                self.submit(TxnKind::Deposit, from, to, minor)
            }
            17..=27 => {
                let (from, to, minor) =
                    (wallet(&mut self.rng), agent(&mut self.rng), self.amount());
                self.submit(TxnKind::Withdrawal, from, to, minor)
            }
            28..=42 => {
                let (from, to, minor) =
                    (wallet(&mut self.rng), wallet(&mut self.rng), self.amount());
                self.submit(TxnKind::Transfer, from, to, minor)
            }
            43..=50 => {
                let from = wallet(&mut self.rng);
                let to = self.rng.pick(&merchants).unwrap_or(AccountId(0));
                let kind = if self.rng.permille(500) {
                    TxnKind::Purchase
                } else {
                    TxnKind::MerchantPayment
                };
                let minor = self.amount();
                self.submit(kind, from, to, minor)
            }
            51..=58 => {
                let (pending, amount) = self.pick_pending();
                let amount_minor = match self.rng.below(4) {
                    0 | 1 => None,
                    2 => Some(amount + i64::try_from(self.rng.below(3)).unwrap_or(0) - 1),
                    _ => Some(amount / 100 * i64::try_from(self.rng.below(121)).unwrap_or(0)),
                };
                Command::PostPending {
                    idempotency_key: self.key(),
                    pending,
                    amount_minor,
                }
            }
            59..=63 => {
                let (pending, _) = self.pick_pending();
                let reason = if self.rng.permille(300) {
                    VoidReason::Expired
                } else {
                    VoidReason::Cancelled
                };
                Command::VoidPending {
                    idempotency_key: self.key(),
                    pending,
                    reason,
                }
            }
            64..=67 => {
                let original = self.pick_txn();
                Command::Reverse {
                    idempotency_key: self.key(),
                    original,
                    memo: "reversal".into(),
                }
            }
            68..=71 => {
                let original = self.pick_txn();
                let amount_minor = match self.rng.below(3) {
                    0 => None,
                    _ => Some(1 + i64::try_from(self.rng.below(50_000)).unwrap_or(0)),
                };
                Command::Refund {
                    idempotency_key: self.key(),
                    original,
                    amount_minor,
                    memo: "refund".into(),
                }
            }
            72..=79 => {
                let allowance = self.rng.pick(&allowances).unwrap_or(AllowanceId(0));
                let minor = match self.rng.below(4) {
                    0 => self.amount(),
                    _ => 1 + i64::try_from(self.rng.below(120)).unwrap_or(0),
                };
                Command::Charge {
                    idempotency_key: self.key(),
                    allowance,
                    amount: Money::from_minor(minor, Currency::KES),
                    memo: "article".into(),
                    metadata: String::new(),
                }
            }
            80..=86 => {
                // A retry of an earlier command, exactly as first sent.
                if let Some(pair) = self.pick_history() {
                    self.stats.ops += 1;
                    batch.push(pair);
                }
                return Ok(());
            }
            87..=88 => {
                if let Some((m, s)) = self.pick_history() {
                    self.stats.ops += 1;
                    batch.push((changed(&m), changed(&s)));
                }
                return Ok(());
            }
            89 => {
                if let Some((m, s)) = self.pick_history() {
                    let key = match self.rng.below(3) {
                        0 => String::new(),
                        1 => "x".repeat(self.key_len_max + 1),
                        _ => format!("{} ", m.idempotency_key()),
                    };
                    self.stats.ops += 1;
                    batch.push((with_key(&m, key.clone()), with_key(&s, key)));
                }
                return Ok(());
            }
            90..=93 => {
                // The expiry sweeper: void every reservation past its expiry, keyed by it.
                let due: Vec<TxnId> = self
                    .pendings
                    .iter()
                    .filter_map(|(id, _)| self.model.pendings.get(id))
                    .filter(|p| p.status == PendingStatus::Open && p.expires_at <= self.now)
                    .map(|p| p.txn_id)
                    .collect();
                for id in due {
                    let m = Command::VoidPending {
                        idempotency_key: format!("expire:{}", id.0),
                        pending: id,
                        reason: VoidReason::Expired,
                    };
                    let s = self.for_store(&m);
                    self.stats.ops += 1;
                    batch.push((m, s));
                }
                return Ok(());
            }
            94..=96 => {
                self.flush(batch)?;
                let seconds = match self.rng.below(10) {
                    0..=5 => 1 + i64::try_from(self.rng.below(120)).unwrap_or(0),
                    6 | 7 => 3_600,
                    8 => 86_400,
                    _ => 3 * 86_400 + 1,
                };
                self.now = self.now.saturating_add_seconds(seconds);
                self.stats.time_jumps += 1;
                return Ok(());
            }
            97 => {
                self.flush(batch)?;
                self.change_status()?;
                return Ok(());
            }
            98 => self.odd_command(),
            _ => {
                self.flush(batch)?;
                return Ok(());
            }
        };
        let store = self.for_store(&command);
        self.stats.ops += 1;
        batch.push((command, store));
        Ok(())
    }

    /// Commands no honest client sends: accounts that do not exist or of the wrong kind, other
    /// currencies, oversized memos, allowances that do not exist.
    fn odd_command(&mut self) -> Command {
        let wallet = self.rng.pick(&self.world.wallets).unwrap_or(AccountId(0));
        let other = self.rng.pick(&self.world.wallets).unwrap_or(AccountId(0));
        let agent = self.rng.pick(&self.world.agents).unwrap_or(AccountId(0));
        let mut command = match self.rng.below(6) {
            0 | 1 => self.submit(TxnKind::Deposit, wallet, other, 5_000),
            2 => self.submit(TxnKind::Transfer, wallet, AccountId(MISSING_ID), 5_000),
            3 => self.submit(TxnKind::Withdrawal, wallet, agent, 5_000),
            4 => self.submit(TxnKind::Transfer, wallet, other, 5_000),
            _ => Command::Charge {
                idempotency_key: self.key(),
                allowance: AllowanceId(MISSING_ID),
                amount: Money::from_minor(5, Currency::KES),
                memo: String::new(),
                metadata: String::new(),
            },
        };
        if let Command::Submit(r) = &mut command {
            match self.rng.below(5) {
                0 => r.amount = Money::from_minor(r.amount.minor(), Currency::UGX),
                1 => r.memo = "m".repeat(4_096),
                2 => r.metadata = "{".repeat(65_536),
                _ => {}
            }
        }
        command
    }

    fn pick_history(&mut self) -> Option<(Command, Command)> {
        let i = self.rng.below(self.history.len());
        self.history.get(i).cloned()
    }

    /// Freezes, closes or re-activates a wallet or an agent float, in the store and the model.
    fn change_status(&mut self) -> anyhow::Result<()> {
        let mut candidates = self.world.wallets.clone();
        candidates.extend(self.world.agents.iter().copied());
        let inactive: Vec<AccountId> = candidates
            .iter()
            .copied()
            .filter(|a| {
                self.model
                    .accounts
                    .get(a)
                    .is_some_and(|s| s.status != AccountStatus::Active)
            })
            .collect();
        // Mostly bring a frozen or closed account back, so most traffic can still flow.
        let (account, status) = match self.rng.pick(&inactive) {
            Some(a) if self.rng.permille(700) => (a, AccountStatus::Active),
            _ => {
                let a = self.rng.pick(&candidates).context("no accounts")?;
                let status = match self.rng.below(4) {
                    0 | 1 => AccountStatus::Frozen,
                    2 => AccountStatus::Closed,
                    _ => AccountStatus::Active,
                };
                (a, status)
            }
        };
        let blacklist = self.rng.permille(150);
        let flag = !self
            .model
            .accounts
            .get(&account)
            .is_some_and(|a| a.blacklisted);
        let conn = self.connection(0)?;
        if blacklist {
            // Blacklisting (sanctions, fraud) is separate from the status: toggle it.
            ensure!(parties::set_blacklisted(conn, account, flag)?, "no account");
            if let Some(a) = self.model.accounts.get_mut(&account) {
                a.blacklisted = flag;
            }
        } else {
            ensure!(
                parties::set_status(conn, account, status)?,
                "set_status found no account"
            );
            if let Some(a) = self.model.accounts.get_mut(&account) {
                a.status = status;
            }
        }
        self.stats.status_changes += 1;
        self.check_step()
    }

    /// Floats the agents and funds every wallet, in a batch of its own.
    fn opening(&mut self) -> anyhow::Result<()> {
        let mut batch = Vec::new();
        let float = self.rules.amount_max_minor / 2;
        for agent in self.world.agents.clone() {
            let key = self.key();
            let c = Command::Submit(TxnRequest {
                idempotency_key: key,
                kind: TxnKind::FloatIssuance,
                debit: self.world.issuance,
                credit: agent,
                amount: Money::from_minor(float, Currency::KES),
                memo: String::new(),
                metadata: String::new(),
                pending_expiry_seconds: None,
            });
            batch.push((c.clone(), c));
        }
        let first_agent = self.world.agents.first().copied().context("no agent")?;
        for wallet in self.world.wallets.clone() {
            let key = self.key();
            let c = Command::Submit(TxnRequest {
                idempotency_key: key,
                kind: TxnKind::Deposit,
                debit: first_agent,
                credit: wallet,
                amount: Money::from_minor(50_000, Currency::KES),
                memo: String::new(),
                metadata: String::new(),
                pending_expiry_seconds: None,
            });
            batch.push((c.clone(), c));
        }
        self.flush(&mut batch)
    }

    /// Sends the batch being built, retrying through faults until every command has an outcome.
    fn flush(&mut self, batch: &mut Vec<(Command, Command)>) -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let pairs = std::mem::take(batch);
        self.stats.batches += 1;
        let mut queue = vec![pairs];
        let mut attempts = 0_u32;
        while let Some(part) = queue.pop() {
            attempts += 1;
            ensure!(attempts < 10_000, "no progress after {attempts} attempts");
            let writer = self.rng.below(2);
            let fault = self.choose_fault();
            match self.attempt(writer, &part, fault)? {
                true => {}
                false => {
                    // As the writer does after a failed batch: sometimes the same batch again,
                    // sometimes one command per transaction. Time moves on a little.
                    self.now = self.now.saturating_add_seconds(1);
                    if part.len() > 1 && self.rng.permille(500) {
                        queue.extend(part.into_iter().rev().map(|p| vec![p]));
                    } else {
                        queue.push(part);
                    }
                }
            }
        }
        Ok(())
    }

    fn choose_fault(&mut self) -> Option<Fault> {
        if !self.rng.permille(self.args.fault_permille) {
            return None;
        }
        let faults: &[Fault] = if self.postgres {
            &[
                Fault::LoadError,
                Fault::CommitError,
                Fault::KillMidCommit,
                Fault::KillBetween,
                Fault::AckLost,
                Fault::AckLost,
            ]
        } else {
            &[
                Fault::LoadError,
                Fault::CommitError,
                Fault::Locked,
                Fault::AckLost,
                Fault::AckLost,
            ]
        };
        self.rng.pick(faults)
    }

    /// One attempt at a batch on one writer's connection. `Ok(true)`: every command has its
    /// outcome, checked against the model; `Ok(false)`: the batch failed as injected.
    fn attempt(
        &mut self,
        writer: usize,
        pairs: &[(Command, Command)],
        fault: Option<Fault>,
    ) -> anyhow::Result<bool> {
        self.stats.attempts += 1;
        self.step += 1;
        let model_commands: Vec<Command> = pairs.iter().map(|p| p.0.clone()).collect();
        let store_commands: Vec<Command> = pairs.iter().map(|p| p.1.clone()).collect();
        let notify = vec![true; store_commands.len()];
        self.connection(writer)?;
        match fault {
            Some(Fault::KillBetween) => {
                let pid = self.backend_pids.get(writer).copied().unwrap_or(0);
                let admin = self.admin.as_mut().context("no admin connection")?;
                admin.batch_execute(&format!("SELECT pg_terminate_backend({pid}, 5000)"))?;
            }
            Some(Fault::Locked) => {
                let locker = self.locker.as_mut().context("no locking connection")?;
                locker.batch_execute("BEGIN IMMEDIATE")?;
            }
            Some(f) => {
                *self.armed.lock().unwrap_or_else(PoisonError::into_inner) = Some(f);
            }
            None => {}
        }
        let ctx = Arc::clone(&self.ctx);
        let now = self.now;
        let slot = self.memories.get_mut(writer).context("no such writer")?;
        let mut memory = std::mem::replace(slot, WriterMemory::new(0));
        let conn = self.connection(writer)?;
        let result = run_batch_as(
            conn,
            &ctx,
            0,
            now,
            &store_commands,
            &notify,
            Some(&mut memory),
        );
        if let Some(slot) = self.memories.get_mut(writer) {
            *slot = memory;
        }
        if fault == Some(Fault::Locked) {
            if let Some(locker) = self.locker.as_mut() {
                locker.batch_execute("ROLLBACK")?;
            }
        }
        let still_armed = self
            .armed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        ensure!(
            still_armed.is_none(),
            "fault {still_armed:?} was never reached"
        );
        match (result, fault) {
            (Ok(outcomes), None) => {
                let expected = self.model.execute(&model_commands, now);
                self.compare(pairs, &expected, &outcomes)?;
                self.check_step()?;
                Ok(true)
            }
            (Ok(_), Some(f)) => bail!("the batch succeeded through the injected fault {f:?}"),
            (Err(err), None) => bail!("store error with no fault injected: {err}"),
            (Err(_), Some(f)) => {
                *self.stats.faults.entry(f.name()).or_default() += 1;
                // The writer drops its connection after any failure.
                if let Some(slot) = self.conns.get_mut(writer) {
                    *slot = None;
                }
                if f.commits() {
                    // Committed, though the caller never heard: the model commits too, and the
                    // retry must be answered from the journal.
                    let outcomes = self.model.execute(&model_commands, now);
                    self.record(pairs, &outcomes);
                    self.check_step()?;
                } else {
                    self.check_step()?;
                }
                Ok(false)
            }
        }
    }

    /// Remembers what the model accepted, for later picks; feeds the digest.
    fn record(&mut self, pairs: &[(Command, Command)], outcomes: &[Outcome]) {
        for ((model, store), outcome) in pairs.iter().zip(outcomes) {
            let _ = writeln!(DigestWriter(&mut self.digest), "{outcome:?}");
            match outcome {
                Outcome::Accepted(r) => {
                    self.stats.accepted += 1;
                    push_bounded(&mut self.txns, r.txn_id, 400);
                    if r.phase == mkoba_ledger::Phase::Pending {
                        push_bounded(&mut self.pendings, (r.txn_id, r.amount.minor()), 400);
                    }
                    push_bounded(&mut self.history, (model.clone(), store.clone()), 2_000);
                }
                Outcome::Replayed(_) => self.stats.replayed += 1,
                Outcome::Rejected(r) => {
                    *self.stats.rejected.entry(r.name()).or_default() += 1;
                    if self.rng.permille(200) {
                        push_bounded(&mut self.history, (model.clone(), store.clone()), 2_000);
                    }
                }
            }
        }
    }

    fn compare(
        &mut self,
        pairs: &[(Command, Command)],
        expected: &[Outcome],
        actual: &[Outcome],
    ) -> anyhow::Result<()> {
        ensure!(
            expected.len() == actual.len() && actual.len() == pairs.len(),
            "outcome counts differ"
        );
        for ((pair, model), store) in pairs.iter().zip(expected).zip(actual) {
            let same = match (model, store) {
                (Outcome::Accepted(m), Outcome::Accepted(s)) => {
                    self.ids.insert(m.txn_id, s.txn_id);
                    self.same_receipt(m, s)
                }
                (Outcome::Replayed(m), Outcome::Replayed(s)) => {
                    // A replay answers the original transaction, never a new one. The first
                    // answer the store gives for a batch whose answer was lost teaches the id.
                    let original = *self.ids.entry(m.txn_id).or_insert(s.txn_id);
                    original == s.txn_id && self.same_receipt(m, s)
                }
                (Outcome::Rejected(m), Outcome::Rejected(s)) => m == s,
                _ => false,
            };
            ensure!(
                same,
                "store and model disagree on {:?}:\n  model: {model:?}\n  store: {store:?}",
                pair.1
            );
        }
        self.record(pairs, expected);
        Ok(())
    }

    fn same_receipt(&self, m: &Receipt, s: &Receipt) -> bool {
        m.kind == s.kind
            && m.phase == s.phase
            && m.amount == s.amount
            && m.fee_minor == s.fee_minor
            && m.commission_minor == s.commission_minor
            && m.debit == s.debit
            && m.credit == s.credit
            && m.related.map(|r| self.store_id(r)) == s.related
            && m.created_at == s.created_at
            && m.expires_at == s.expires_at
    }

    /// After every batch attempt: the store's accounts and allowances equal the model's, money is
    /// conserved, nothing is below its floor; every `check_every` steps, full reconciliation.
    fn check_step(&mut self) -> anyhow::Result<()> {
        self.stats.step_checks += 1;
        let full = self.step % self.args.check_every.max(1) == 0;
        let corrupt = self.args.corrupt_at_step == Some(self.step);
        let victim = self.world.wallets.first().copied().unwrap_or(AccountId(0));
        let conn = self.connection(0)?;
        if corrupt {
            with_conn!(&mut *conn, |c| diesel::update(
                accounts::table.find(victim.0)
            )
            .set(accounts::balance_minor.eq(accounts::balance_minor + 1))
            .execute(c))?;
        }
        let store_accounts = load_accounts(conn)?;
        let store_allowances = load_allowances(conn)?;
        ensure!(
            store_accounts.len() == self.model.accounts.len(),
            "account count differs"
        );
        let mut total = 0_i128;
        for (id, s) in &store_accounts {
            let m = self
                .model
                .accounts
                .get(id)
                .context("account missing in model")?;
            ensure!(
                m == s,
                "account {} differs:\n  model: {m:?}\n  store: {s:?}",
                id.0
            );
            ensure!(
                s.is_within_floor(),
                "account {} is below its floor: {s:?}",
                id.0
            );
            ensure!(
                s.pending_debits_minor >= 0 && s.pending_credits_minor >= 0,
                "negative pending counters on {}",
                id.0
            );
            total += i128::from(s.balance_minor);
        }
        ensure!(total == 0, "money not conserved: balances sum to {total}");
        ensure!(
            store_allowances == self.model.allowances,
            "allowances differ between store and model"
        );
        if full {
            self.reconcile()?;
        }
        Ok(())
    }

    fn reconcile(&mut self) -> anyhow::Result<()> {
        self.stats.reconciliations += 1;
        let conn = self.connection(0)?;
        let report = reconcile::run(conn)?;
        ensure!(
            report.balanced(),
            "store does not reconcile: {:?}",
            report.mismatches
        );
        let journal: i64 = with_conn!(conn, |c| transactions::table.count().get_result(c))?;
        let open: i64 = with_conn!(conn, |c| pending_transfers::table
            .filter(pending_transfers::status.eq("open"))
            .count()
            .get_result(c))?;
        let model_report = self.model.reconcile();
        ensure!(model_report.balanced(), "model does not reconcile");
        let model_open = self
            .model
            .pendings
            .values()
            .filter(|p| p.status == PendingStatus::Open)
            .count();
        ensure!(
            usize::try_from(journal).ok() == Some(self.model.journal.len()),
            "journal lengths differ: store {journal}, model {}",
            self.model.journal.len()
        );
        ensure!(
            usize::try_from(open).ok() == Some(model_open),
            "open pendings differ: store {open}, model {model_open}"
        );
        Ok(())
    }

    fn run(&mut self) -> anyhow::Result<()> {
        let mut batch = Vec::new();
        let mut cut_at = 1 + self.rng.below(16);
        while self.stats.ops < self.args.ops {
            self.operation(&mut batch)?;
            if batch.len() >= cut_at {
                self.flush(&mut batch)?;
                let big = self.rng.permille(100);
                cut_at = 1 + self.rng.below(if big { 60 } else { 16 });
            }
        }
        self.flush(&mut batch)?;
        // Drain: time passes beyond every expiry and the sweeper voids what is still open.
        self.now = self.now.saturating_add_seconds(9 * 86_400);
        let open: Vec<TxnId> = self
            .model
            .pendings
            .values()
            .filter(|p| p.status == PendingStatus::Open)
            .map(|p| p.txn_id)
            .collect();
        for id in open {
            let m = Command::VoidPending {
                idempotency_key: format!("expire:{}", id.0),
                pending: id,
                reason: VoidReason::Expired,
            };
            let s = self.for_store(&m);
            batch.push((m, s));
        }
        self.flush(&mut batch)?;
        self.reconcile()?;
        let still_open = self
            .model
            .pendings
            .values()
            .filter(|p| p.status == PendingStatus::Open)
            .count();
        ensure!(still_open == 0, "{still_open} pending transfers left open");
        Ok(())
    }

    fn digest_hex(&self) -> String {
        self.digest
            .clone()
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

struct DigestWriter<'a>(&'a mut Sha256);

impl std::fmt::Write for DigestWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

fn load_accounts(conn: &mut AnyConnection) -> anyhow::Result<BTreeMap<AccountId, AccountState>> {
    let rows: Vec<AccountRow> = with_conn!(conn, |c| accounts::table
        .order(accounts::id)
        .select(AccountRow::as_select())
        .load(c))?;
    rows.iter()
        .map(|r| r.to_state().map(|s| (s.id, s)).map_err(anyhow::Error::from))
        .collect()
}

type AllowanceTuple = (i64, i64, i64, String, i64, i64, i64, i64, String);

fn load_allowances(
    conn: &mut AnyConnection,
) -> anyhow::Result<BTreeMap<AllowanceId, AllowanceState>> {
    let rows: Vec<AllowanceTuple> = with_conn!(conn, |c| allowances::table
        .order(allowances::id)
        .select((
            allowances::id,
            allowances::wallet_account_id,
            allowances::merchant_account_id,
            allowances::currency,
            allowances::cap_minor,
            allowances::spent_minor,
            allowances::per_charge_max_minor,
            allowances::expires_at,
            allowances::status,
        ))
        .load(c))?;
    rows.into_iter()
        .map(
            |(id, wallet, merchant, currency, cap, spent, per_charge, expires, status)| {
                let state = AllowanceState {
                    id: AllowanceId(id),
                    wallet: AccountId(wallet),
                    merchant: AccountId(merchant),
                    currency: Currency::from_code(&currency).context("allowance currency")?,
                    cap_minor: cap,
                    spent_minor: spent,
                    per_charge_max_minor: per_charge,
                    expires_at: Timestamp(expires),
                    active: status == "active",
                };
                Ok((state.id, state))
            },
        )
        .collect()
}

/// The simulated world: system accounts, three agents (the last a super-agent, without a
/// commission account), six customers over the three tiers, two merchants and four allowances.
fn setup(
    conn: &mut AnyConnection,
    t0_seconds: i64,
) -> anyhow::Result<(World, BTreeMap<Currency, AccountId>)> {
    let system = parties::ensure_system_accounts(conn, &[Currency::KES])?;
    let kes = system.get(&Currency::KES).context("KES system accounts")?;
    let mut agents = Vec::new();
    for (i, role) in [AgentRole::Agent, AgentRole::Agent, AgentRole::SuperAgent]
        .into_iter()
        .enumerate()
    {
        let code = format!("SIM{i}");
        let msisdn = format!("+25471100090{i}");
        let agent = parties::create_agent(
            conn,
            &NewAgent {
                code: &code,
                name: "Sim Agent",
                role,
                parent_agent_id: None,
                msisdn: &msisdn,
                currency: Currency::KES,
                password_hash: "-",
            },
        )?;
        agents.push(agent.float);
    }
    let mut wallets = Vec::new();
    let mut customers = Vec::new();
    for (i, tier) in [
        Tier::Tier0,
        Tier::Tier0,
        Tier::Tier1,
        Tier::Tier1,
        Tier::Tier2,
        Tier::Tier2,
    ]
    .into_iter()
    .enumerate()
    {
        let msisdn = format!("+25471100010{i}");
        let created = parties::create_customer(
            conn,
            &NewCustomer {
                msisdn: &msisdn,
                name: "Sim Customer",
                language: "en",
                currency: Currency::KES,
                tier,
                pin_hash: None,
                id_document: None,
            },
        )?;
        wallets.push(created.wallet);
        customers.push(KnownCustomer {
            id: created.customer_id,
            wallet: created.wallet,
            pseudonym: String::new(),
            msisdn,
            language: "en".into(),
        });
    }
    let mut merchants = Vec::new();
    let mut merchant_ids = Vec::new();
    for i in 0..2 {
        let m = parties::create_merchant(conn, &format!("SIMM{i}"), "Sim Merchant", Currency::KES)?;
        merchants.push(m.account);
        merchant_ids.push(m.merchant_id);
    }
    let mut allowance_ids = Vec::new();
    let micros = Timestamp::MICROS_PER_SECOND;
    for (i, customer) in customers.iter().enumerate().take(4) {
        let m = i % 2;
        let created = create_allowance(
            conn,
            &NewAllowance {
                merchant_id: merchant_ids.get(m).copied().context("merchant")?,
                merchant_account: merchants.get(m).copied().context("merchant")?,
                customer,
                currency: Currency::KES,
                cap_minor: 5_000 + 2_000 * i64::try_from(i).unwrap_or(0),
                per_charge_max_minor: 100,
                // Two lapse during a run (days 2 and 4); two outlive any run.
                expires_at_us: if i < 2 {
                    (t0_seconds + (2 + 2 * i64::try_from(i).unwrap_or(0)) * 86_400) * micros
                } else {
                    (t0_seconds + 3_650 * 86_400) * micros
                },
                description: "sim",
                request: None,
                now_us: t0_seconds * micros,
            },
        )?;
        match created {
            Created::New(row) => allowance_ids.push(AllowanceId(row.id)),
            Created::Existing(_) | Created::Conflict => bail!("allowance not created"),
        }
    }
    let fee_revenue = BTreeMap::from([(Currency::KES, kes.fee_revenue)]);
    Ok((
        World {
            issuance: kes.issuance,
            agents,
            wallets,
            merchants,
            allowances: allowance_ids,
        },
        fee_revenue,
    ))
}

/// A fresh database for one seed; dropped (PostgreSQL) or removed (SQLite) afterwards.
enum Scratch {
    Sqlite(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Scratch {
    fn create(url: &str, seed: u64) -> anyhow::Result<(Scratch, DatabaseUrl)> {
        if url == "sqlite" {
            let dir = std::env::temp_dir().join(format!("mkoba-sim-{}-{seed}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("sim.db");
            return Ok((Scratch::Sqlite(dir), DatabaseUrl::Sqlite(path)));
        }
        match DatabaseUrl::parse(url).map_err(anyhow::Error::msg)? {
            DatabaseUrl::Postgres(admin) => {
                let name = format!("mkoba_sim_{}_{seed}", std::process::id());
                let mut conn = diesel::PgConnection::establish(&admin)?;
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
                conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                let url = DatabaseUrl::Postgres(format!("{base}/{name}"));
                Ok((Scratch::Postgres { admin, name }, url))
            }
            DatabaseUrl::Sqlite(path) => Ok((
                Scratch::Sqlite(
                    path.parent()
                        .map(std::path::Path::to_path_buf)
                        .unwrap_or_default(),
                ),
                DatabaseUrl::Sqlite(path),
            )),
        }
    }

    fn drop_it(self) {
        match self {
            Scratch::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::Postgres { admin, name } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(&admin) {
                    let _ =
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

fn run_seed(args: &Args, seed: u64) -> anyhow::Result<String> {
    let started = Instant::now();
    let (scratch, url) = Scratch::create(&args.url, seed)?;
    let result = Sim::new(args, seed, url).and_then(|mut sim| {
        let outcome = sim.run();
        let s = &sim.stats;
        let faults: u64 = s.faults.values().sum();
        let rejected: u64 = s.rejected.values().sum();
        let line = format!(
            "seed={seed} ops={} batches={} attempts={} accepted={} replayed={} rejected={} \
             faults={faults} {:?} status_changes={} time_jumps={} step_checks={} reconciliations={} \
             journal={} digest={} seconds={:.1}",
            s.ops,
            s.batches,
            s.attempts,
            s.accepted,
            s.replayed,
            rejected,
            s.faults,
            s.status_changes,
            s.time_jumps,
            s.step_checks,
            s.reconciliations,
            sim.model.journal.len(),
            sim.digest_hex(),
            started.elapsed().as_secs_f64()
        );
        match outcome {
            Ok(()) => Ok((line, s.rejected.clone())),
            Err(e) => Err(anyhow!("{e:#}\n  at step {} after {line}", sim.step)),
        }
    });
    scratch.drop_it();
    let (line, rejections) = result?;
    Ok(format!("{line}\n  rejections: {rejections:?}"))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut failed = false;
    for seed in args.seed..args.seed.saturating_add(args.seeds) {
        match run_seed(&args, seed) {
            Ok(line) => println!("ok {line}"),
            Err(e) => {
                failed = true;
                println!("FAILED seed={seed}: {e:#}");
                println!(
                    "replay: cargo run --release --bin mkoba-sim -- --url {} --seed {seed} --ops {} \
                     --fault-permille {} --check-every {}",
                    args.url, args.ops, args.fault_permille, args.check_every
                );
            }
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
