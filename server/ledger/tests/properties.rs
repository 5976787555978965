//! Property tests: random sequences of commands over two currencies, split into random batches
//! with time moving on, checked after every batch against whole-ledger invariants and a small
//! model of idempotency, pending transfers and reversals.
//!
//! Every sequence is then run again with the same commands grouped into different batches; the
//! outcomes and the final ledger must be identical, so batching is invisible to callers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{HashMap, HashSet};

use mkoba_ledger::memory::MemoryLedger;
use mkoba_ledger::rules::{Band, Bands, CurrencyRules, TierLimits};
use mkoba_ledger::{
    AccountId, AccountKind, AccountStatus, Command, Currency, LedgerRules, Money, Outcome, Phase,
    Receipt, Rejection, Tier, Timestamp, TxnId, TxnKind, TxnRequest, VoidReason,
};
use proptest::prelude::*;

const CURRENCIES: [Currency; 2] = [Currency::KES, Currency::UGX];
const AGENTS: usize = 3;
const WALLET_TIERS: [Tier; 4] = [Tier::Tier0, Tier::Tier0, Tier::Tier1, Tier::Tier2];
const MERCHANTS: usize = 2;
/// 2024-03-01 07:00:00 UTC (10:00 in Nairobi).
const T0_SECONDS: i64 = 1_709_276_400;

/// Kenyan defaults plus UGX at 1 KES = 30 UGX (UGX has no minor unit). `tight` keeps the
/// tariffs but makes the policy bind sooner: UGX daily limits below the per-transaction limit
/// and balance limits at it, one reversal per transaction within two hours, pendings of at most a
/// day, and an operator west of UTC.
fn rules(tight: bool) -> LedgerRules {
    let mut rules = LedgerRules::kenya_defaults();
    let kes = rules.currencies[&Currency::KES].clone();
    let scale = |minor: i64| minor * 30 / 100;
    let bands = |b: &Bands| {
        Bands(
            b.0.iter()
                .map(|band| Band {
                    from_minor: scale(band.from_minor),
                    to_minor: scale(band.to_minor + 1) - 1,
                    fee_minor: scale(band.fee_minor),
                })
                .collect(),
        )
    };
    let mut ugx: CurrencyRules = kes.clone();
    ugx.amount_max_minor = scale(kes.amount_max_minor);
    ugx.operator_amount_max_minor = scale(kes.operator_amount_max_minor);
    ugx.tiers = kes.tiers.map(|t| TierLimits {
        per_transaction_minor: scale(t.per_transaction_minor),
        daily_debits_minor: scale(t.daily_debits_minor),
        balance_minor: scale(t.balance_minor),
    });
    for min in ugx.minimums_minor.values_mut() {
        *min = scale(*min);
    }
    ugx.tariffs.send = bands(&kes.tariffs.send);
    ugx.tariffs.withdraw = bands(&kes.tariffs.withdraw);
    ugx.tariffs.commission_deposit = bands(&kes.tariffs.commission_deposit);
    ugx.tariffs.commission_withdrawal = bands(&kes.tariffs.commission_withdrawal);
    ugx.tariffs.merchant.cap_minor = scale(kes.tariffs.merchant.cap_minor);
    if tight {
        for t in &mut ugx.tiers {
            t.daily_debits_minor = t.per_transaction_minor / 2;
            t.balance_minor = t.per_transaction_minor;
        }
        rules.reversal.window_seconds = 2 * 3_600;
        rules.reversal.attempts_max = 1;
        rules.pending.expiry_max_seconds = 86_400;
        rules.utc_offset_seconds = -5 * 3_600;
    }
    rules.currencies.insert(Currency::UGX, ugx);
    assert_eq!(rules.validate(), Ok(()));
    rules
}

/// Amounts worth trying in a currency: zero and negatives, one minor unit, the edges of every
/// minimum, band, tier limit and the merchant fee cap, the maximum and beyond.
fn edge_amounts(rules: &CurrencyRules) -> Vec<i64> {
    let mut edges = vec![i64::MIN, -1, 0, 1, 2, 99, 100, 101, i64::MAX];
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
    let capped_from = t.merchant.cap_minor * 10_000 / i64::from(t.merchant.basis_points);
    edges.extend([capped_from - 1, capped_from, capped_from + 1]);
    edges.sort_unstable();
    edges.dedup();
    edges
}

#[derive(Clone, Copy, Debug)]
enum Amt {
    /// An index (modulo the list) into the currency's edge amounts.
    Edge(usize),
    /// Thousandths of the currency's tier-0 per-transaction limit (up to 110%, mostly small).
    Part(u16),
    /// A small number of minor units.
    Tiny(i64),
}

#[derive(Clone, Copy, Debug)]
enum PostPart {
    Full,
    /// The reserved amount plus -1, 0 or +1 minor units.
    Exact(i8),
    Percent(u8),
}

#[derive(Clone, Debug)]
enum Op {
    Issue {
        cur: usize,
        agent: usize,
        permille: u16,
    },
    Deposit {
        cur: usize,
        agent: usize,
        wallet: usize,
        amt: Amt,
        expiry: Option<i64>,
    },
    Withdraw {
        cur: usize,
        wallet: usize,
        agent: usize,
        amt: Amt,
        expiry: Option<i64>,
    },
    Transfer {
        cur: usize,
        from: usize,
        to: usize,
        amt: Amt,
        expiry: Option<i64>,
    },
    Pay {
        cur: usize,
        wallet: usize,
        merchant: usize,
        amt: Amt,
        expiry: Option<i64>,
        purchase: bool,
    },
    /// A KES amount between a KES and a UGX wallet, either way round, or a TZS amount between
    /// KES wallets: never acceptable.
    CrossCurrency {
        from: usize,
        to: usize,
        amt: Amt,
        mode: u8,
    },
    Post {
        pick: usize,
        part: PostPart,
    },
    Void {
        pick: usize,
        expired: bool,
    },
    /// A merchant refund of a picked transaction: all that is left (`None`) or a part.
    Refund {
        pick: usize,
        minor: Option<u16>,
    },
    Reverse {
        pick: usize,
    },
    /// Sends an earlier command again, with its key.
    Retry {
        pick: usize,
    },
    /// Sends a changed copy of an earlier command under its key.
    Reuse {
        pick: usize,
    },
    /// Sends an earlier command under a malformed key.
    BadKey {
        pick: usize,
        which: u8,
    },
    Advance {
        seconds: i64,
    },
    Cut,
    /// The store changes a wallet's status or blacklisting between batches.
    Status {
        cur: usize,
        wallet: usize,
        change: u8,
    },
}

fn amt() -> impl Strategy<Value = Amt> {
    prop_oneof![
        3 => any::<usize>().prop_map(Amt::Edge),
        4 => (0_u16..=100).prop_map(Amt::Part),
        2 => (0_u16..=1_100).prop_map(Amt::Part),
        3 => (1_i64..=20_000).prop_map(Amt::Tiny),
    ]
}

fn expiry() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        6 => Just(None),
        3 => prop::sample::select(vec![60_i64, 3_600, 86_400, 7 * 86_400]).prop_map(Some),
        1 => prop::sample::select(vec![-1_i64, 0, 7 * 86_400 + 1]).prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let cur = 0..CURRENCIES.len();
    let wallet = 0..WALLET_TIERS.len();
    prop_oneof![
        2 => (cur.clone(), 0..AGENTS, 0_u16..=1_000)
            .prop_map(|(cur, agent, permille)| Op::Issue { cur, agent, permille }),
        4 => (cur.clone(), 0..AGENTS, wallet.clone(), amt(), expiry())
            .prop_map(|(cur, agent, wallet, amt, expiry)| Op::Deposit { cur, agent, wallet, amt, expiry }),
        3 => (cur.clone(), wallet.clone(), 0..AGENTS, amt(), expiry())
            .prop_map(|(cur, wallet, agent, amt, expiry)| Op::Withdraw { cur, wallet, agent, amt, expiry }),
        5 => (cur.clone(), wallet.clone(), wallet.clone(), amt(), expiry())
            .prop_map(|(cur, from, to, amt, expiry)| Op::Transfer { cur, from, to, amt, expiry }),
        3 => (cur.clone(), wallet.clone(), 0..MERCHANTS, amt(), expiry(), any::<bool>())
            .prop_map(|(cur, wallet, merchant, amt, expiry, purchase)| {
                Op::Pay { cur, wallet, merchant, amt, expiry, purchase }
            }),
        1 => (wallet.clone(), wallet.clone(), amt(), 0_u8..3)
            .prop_map(|(from, to, amt, mode)| Op::CrossCurrency { from, to, amt, mode }),
        4 => (
            any::<usize>(),
            prop_oneof![
                Just(PostPart::Full),
                (-1_i8..=1).prop_map(PostPart::Exact),
                (0_u8..=120).prop_map(PostPart::Percent)
            ]
        )
            .prop_map(|(pick, part)| Op::Post { pick, part }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, expired)| Op::Void { pick, expired }),
        3 => any::<usize>().prop_map(|pick| Op::Reverse { pick }),
        2 => (any::<usize>(), proptest::option::of(any::<u16>()))
            .prop_map(|(pick, minor)| Op::Refund { pick, minor }),
        4 => any::<usize>().prop_map(|pick| Op::Retry { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Reuse { pick }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(pick, which)| Op::BadKey { pick, which }),
        2 => prop::sample::select(vec![
            1_i64, 59, 60, 3_600, 5 * 3_600, 86_399, 86_400, 86_401, 3 * 86_400, 8 * 86_400
        ])
        .prop_map(|seconds| Op::Advance { seconds }),
        2 => Just(Op::Cut),
        1 => (cur, wallet, 0_u8..6).prop_map(|(cur, wallet, change)| Op::Status { cur, wallet, change }),
    ]
}

struct Accounts {
    issuance: AccountId,
    agents: Vec<AccountId>,
    wallets: Vec<AccountId>,
    merchants: Vec<AccountId>,
}

/// What the store was asked to do, in order, so that a second run can repeat it.
#[derive(Clone, Debug)]
enum Step {
    Batch(Vec<Command>, Timestamp),
    Status(AccountId, u8),
}

fn apply_status(ledger: &mut MemoryLedger, account: AccountId, change: u8) {
    let a = ledger.accounts.get_mut(&account).unwrap();
    match change {
        0..=2 => a.status = AccountStatus::Active,
        3 => a.status = AccountStatus::Frozen,
        4 => a.status = AccountStatus::Closed,
        _ => a.blacklisted = !a.blacklisted,
    }
}

fn key_is_valid(key: &str, rules: &LedgerRules) -> bool {
    !key.is_empty()
        && key.len() <= rules.idempotency_key_len_max
        && key.bytes().all(|b| b.is_ascii_graphic())
}

fn with_key(mut command: Command, key: String) -> Command {
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

/// The same command with one defining field changed.
fn changed(command: &Command) -> Command {
    match command.clone() {
        Command::Submit(mut r) => {
            let minor = r.amount.minor().wrapping_add(1);
            r.amount = Money::from_minor(minor, r.amount.currency());
            Command::Submit(r)
        }
        Command::PostPending {
            idempotency_key,
            pending,
            amount_minor,
        } => Command::PostPending {
            idempotency_key,
            pending,
            amount_minor: Some(amount_minor.map_or(1, |a| a.wrapping_add(1))),
        },
        Command::VoidPending {
            idempotency_key,
            pending,
            reason,
        } => Command::VoidPending {
            idempotency_key,
            pending,
            reason: match reason {
                VoidReason::Cancelled => VoidReason::Expired,
                VoidReason::Expired => VoidReason::Cancelled,
            },
        },
        Command::Reverse {
            idempotency_key,
            original,
            memo,
        } => Command::Reverse {
            idempotency_key,
            original,
            memo: memo + "!",
        },
        Command::Refund {
            idempotency_key,
            original,
            amount_minor,
            memo,
        } => Command::Refund {
            idempotency_key,
            original,
            amount_minor,
            memo: memo + "!",
        },
        Command::Charge {
            idempotency_key,
            allowance,
            amount,
            memo,
            metadata,
        } => Command::Charge {
            idempotency_key,
            allowance,
            amount,
            memo: memo + "!",
            metadata,
        },
    }
}

struct Run {
    ledger: MemoryLedger,
    rules: LedgerRules,
    accounts: Vec<Accounts>,
    edges: Vec<Vec<i64>>,
    now: Timestamp,
    /// The id the store will give the next command (it allocates one per command, in order).
    next_id: i64,
    keys: u64,
    batch: Vec<Command>,
    batches: u64,
    steps: Vec<Step>,
    /// Every command built so far, for retries.
    history: Vec<Command>,
    /// Each accepted key with the command and receipt that first used it.
    accepted: HashMap<String, (Command, Receipt)>,
    accepted_in_order: Vec<String>,
    /// Pending transfers that may exist (id, amount): accepted ones and ones submitted in the
    /// batch being built, at the id they will get if accepted.
    pendings: Vec<(TxnId, i64)>,
    resolved: HashSet<TxnId>,
    /// Transactions accepted in earlier batches, as reversal targets.
    txns: Vec<TxnId>,
    reversed: HashMap<TxnId, (i64, u32)>,
}

/// A ledger with the same accounts, at the same ids, every time.
fn open_ledger(rules: LedgerRules) -> (MemoryLedger, Vec<Accounts>) {
    let mut ledger = MemoryLedger::new(rules);
    let mut accounts = Vec::new();
    for currency in CURRENCIES {
        let issuance = ledger.issuance(currency).unwrap();
        let mut agents = Vec::new();
        for i in 0..AGENTS {
            // The last agent is a super-agent: no commission account.
            agents.push(if i + 1 < AGENTS {
                ledger.open_agent(currency).0
            } else {
                ledger.open(AccountKind::AgentFloat, currency, Tier::Tier2)
            });
        }
        let wallets = WALLET_TIERS
            .iter()
            .map(|tier| ledger.open(AccountKind::CustomerWallet, currency, *tier))
            .collect();
        let merchants = (0..MERCHANTS)
            .map(|_| ledger.open(AccountKind::Merchant, currency, Tier::Tier2))
            .collect();
        accounts.push(Accounts {
            issuance,
            agents,
            wallets,
            merchants,
        });
    }
    (ledger, accounts)
}

impl Run {
    fn new(rules: LedgerRules) -> Run {
        let (ledger, accounts) = open_ledger(rules.clone());
        let edges = CURRENCIES
            .iter()
            .map(|c| edge_amounts(&rules.currencies[c]))
            .collect();
        Run {
            ledger,
            rules,
            accounts,
            edges,
            now: Timestamp(T0_SECONDS * Timestamp::MICROS_PER_SECOND),
            next_id: 1,
            keys: 0,
            batch: Vec::new(),
            batches: 0,
            steps: Vec::new(),
            history: Vec::new(),
            accepted: HashMap::new(),
            accepted_in_order: Vec::new(),
            pendings: Vec::new(),
            resolved: HashSet::new(),
            txns: Vec::new(),
            reversed: HashMap::new(),
        }
    }

    fn key(&mut self) -> String {
        self.keys += 1;
        format!("op-{}", self.keys)
    }

    fn amount(&self, cur: usize, amt: Amt) -> i64 {
        let currency = CURRENCIES[cur];
        match amt {
            Amt::Edge(i) => self.edges[cur][i % self.edges[cur].len()],
            Amt::Part(permille) => {
                let limit = self.rules.currencies[&currency].tiers[0].per_transaction_minor;
                limit / 1_000 * i64::from(permille)
            }
            Amt::Tiny(minor) => minor,
        }
    }

    fn submit(
        &mut self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        amount: Money,
        expiry: Option<i64>,
    ) -> Command {
        let idempotency_key = self.key();
        Command::Submit(TxnRequest {
            idempotency_key,
            kind,
            debit,
            credit,
            amount,
            memo: String::new(),
            metadata: String::new(),
            pending_expiry_seconds: expiry,
        })
    }

    /// Adds a command to the batch being built.
    fn push(&mut self, command: Command) {
        let id = TxnId(self.next_id + i64::try_from(self.batch.len()).unwrap());
        if let Command::Submit(r) = &command {
            if r.pending_expiry_seconds.is_some() {
                self.pendings.push((id, r.amount.minor()));
            }
        }
        self.history.push(command.clone());
        self.batch.push(command);
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Issue {
                cur,
                agent,
                permille,
            } => {
                let currency = CURRENCIES[cur];
                let max = self.rules.currencies[&currency].amount_max_minor;
                let a = &self.accounts[cur];
                let (debit, credit) = (a.issuance, a.agents[agent]);
                let amount = Money::from_minor(max / 1_000 * i64::from(permille), currency);
                let c = self.submit(TxnKind::FloatIssuance, debit, credit, amount, None);
                self.push(c);
            }
            Op::Deposit {
                cur,
                agent,
                wallet,
                amt,
                expiry,
            } => {
                let a = &self.accounts[cur];
                let (debit, credit) = (a.agents[agent], a.wallets[wallet]);
                let amount = Money::from_minor(self.amount(cur, amt), CURRENCIES[cur]);
                let c = self.submit(TxnKind::Deposit, debit, credit, amount, expiry);
                self.push(c);
            }
            Op::Withdraw {
                cur,
                wallet,
                agent,
                amt,
                expiry,
            } => {
                let a = &self.accounts[cur];
                let (debit, credit) = (a.wallets[wallet], a.agents[agent]);
                let amount = Money::from_minor(self.amount(cur, amt), CURRENCIES[cur]);
                let c = self.submit(TxnKind::Withdrawal, debit, credit, amount, expiry);
                self.push(c);
            }
            Op::Transfer {
                cur,
                from,
                to,
                amt,
                expiry,
            } => {
                let a = &self.accounts[cur];
                let (debit, credit) = (a.wallets[from], a.wallets[to]);
                let amount = Money::from_minor(self.amount(cur, amt), CURRENCIES[cur]);
                let c = self.submit(TxnKind::Transfer, debit, credit, amount, expiry);
                self.push(c);
            }
            Op::Pay {
                cur,
                wallet,
                merchant,
                amt,
                expiry,
                purchase,
            } => {
                let a = &self.accounts[cur];
                let (debit, credit) = (a.wallets[wallet], a.merchants[merchant]);
                let amount = Money::from_minor(self.amount(cur, amt), CURRENCIES[cur]);
                let kind = if purchase {
                    TxnKind::Purchase
                } else {
                    TxnKind::MerchantPayment
                };
                let c = self.submit(kind, debit, credit, amount, expiry);
                self.push(c);
            }
            Op::CrossCurrency {
                from,
                to,
                amt,
                mode,
            } => {
                let (kes, ugx) = (&self.accounts[0], &self.accounts[1]);
                let (debit, credit, currency) = match mode {
                    0 => (kes.wallets[from], ugx.wallets[to], Currency::KES),
                    1 => (ugx.wallets[from], kes.wallets[to], Currency::KES),
                    _ => (kes.wallets[from], kes.wallets[to], Currency::TZS),
                };
                let amount = Money::from_minor(self.amount(0, amt), currency);
                let c = self.submit(TxnKind::Transfer, debit, credit, amount, None);
                self.push(c);
            }
            Op::Post { pick, part } => {
                let (pending, amount) = self.pick_pending(pick);
                let amount_minor = match part {
                    PostPart::Full => None,
                    PostPart::Exact(delta) => Some(amount.saturating_add(i64::from(delta))),
                    PostPart::Percent(p) => Some((amount / 100).saturating_mul(i64::from(p))),
                };
                let idempotency_key = self.key();
                self.push(Command::PostPending {
                    idempotency_key,
                    pending,
                    amount_minor,
                });
            }
            Op::Void { pick, expired } => {
                let (pending, _) = self.pick_pending(pick);
                let idempotency_key = self.key();
                self.push(Command::VoidPending {
                    idempotency_key,
                    pending,
                    reason: if expired {
                        VoidReason::Expired
                    } else {
                        VoidReason::Cancelled
                    },
                });
            }
            Op::Reverse { pick } => {
                // One pick in eight names a transaction that does not exist.
                let original = match self.txns.len() {
                    0 => TxnId(-1),
                    n if pick % 8 == 0 => TxnId(i64::try_from(n).unwrap() * 1_000 + 7),
                    n => self.txns[pick % n],
                };
                let idempotency_key = self.key();
                self.push(Command::Reverse {
                    idempotency_key,
                    original,
                    memo: "reversal".into(),
                });
            }
            Op::Refund { pick, minor } => {
                let original = match self.txns.len() {
                    0 => TxnId(-1),
                    n => self.txns[pick % n],
                };
                let idempotency_key = self.key();
                self.push(Command::Refund {
                    idempotency_key,
                    original,
                    amount_minor: minor.map(i64::from),
                    memo: "refund".into(),
                });
            }
            Op::Retry { pick } => {
                if let Some(c) = self.pick_history(pick) {
                    self.push(c);
                }
            }
            Op::Reuse { pick } => {
                if let Some(c) = self.pick_history(pick) {
                    self.push(changed(&c));
                }
            }
            Op::BadKey { pick, which } => {
                if let Some(c) = self.pick_history(pick) {
                    let key = match which % 4 {
                        0 => String::new(),
                        1 => "x".repeat(self.rules.idempotency_key_len_max + 1),
                        2 => format!("{} ", c.idempotency_key()),
                        _ => format!("{}\u{e9}", c.idempotency_key()),
                    };
                    self.push(with_key(c, key));
                }
            }
            Op::Advance { seconds } => {
                self.flush();
                self.now = self.now.saturating_add_seconds(seconds);
            }
            Op::Cut => self.flush(),
            Op::Status {
                cur,
                wallet,
                change,
            } => {
                self.flush();
                let account = self.accounts[cur].wallets[wallet];
                apply_status(&mut self.ledger, account, change);
                self.steps.push(Step::Status(account, change));
            }
        }
    }

    /// One pick in eight names a pending transfer that does not exist.
    /// Floats every agent and gives every wallet something to spend, in a batch of its own.
    fn opening(&mut self) {
        for (cur, currency) in CURRENCIES.iter().enumerate() {
            let rules = &self.rules.currencies[currency];
            let float = rules.amount_max_minor / 2;
            let deposit = rules.tiers[0].per_transaction_minor / 2;
            let a = &self.accounts[cur];
            let issuance = a.issuance;
            let agents = a.agents.clone();
            let wallets = a.wallets.clone();
            for agent in &agents {
                let amount = Money::from_minor(float, *currency);
                let c = self.submit(TxnKind::FloatIssuance, issuance, *agent, amount, None);
                self.push(c);
            }
            for wallet in wallets {
                let amount = Money::from_minor(deposit, *currency);
                let c = self.submit(TxnKind::Deposit, agents[AGENTS - 1], wallet, amount, None);
                self.push(c);
            }
        }
        self.flush();
        assert_eq!(
            self.accepted.len(),
            self.history.len(),
            "the opening is all accepted"
        );
    }

    fn pick_pending(&self, pick: usize) -> (TxnId, i64) {
        match self.pendings.len() {
            n if n == 0 || pick % 8 == 0 => (TxnId(-1), 1_000),
            n => self.pendings[pick % n],
        }
    }

    fn pick_history(&self, pick: usize) -> Option<Command> {
        match self.history.len() {
            0 => None,
            n => Some(self.history[pick % n].clone()),
        }
    }

    /// Runs the batch being built and checks every outcome and the ledger after it.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let commands = std::mem::take(&mut self.batch);
        self.steps.push(Step::Batch(commands.clone(), self.now));
        let journal_before = self.ledger.journal.len();
        let first_id = self.next_id;
        let outcomes = self.ledger.execute(&commands, self.now);
        self.next_id += i64::try_from(commands.len()).unwrap();
        self.batches += 1;
        assert_eq!(outcomes.len(), commands.len());

        let mut accepted_now = 0;
        let mut new_txns = Vec::new();
        for (i, (command, outcome)) in commands.iter().zip(&outcomes).enumerate() {
            let key = command.idempotency_key();
            if !key_is_valid(key, &self.rules) {
                assert_eq!(
                    outcome,
                    &Outcome::Rejected(Rejection::IdempotencyKeyInvalid)
                );
                continue;
            }
            if let Some((first, receipt)) = self.accepted.get(key) {
                if first == command {
                    // A retry never moves money again: it gets the first receipt back.
                    assert_eq!(outcome, &Outcome::Replayed(receipt.clone()), "{command:?}");
                } else {
                    assert_eq!(
                        outcome,
                        &Outcome::Rejected(Rejection::IdempotencyKeyReused),
                        "{command:?}"
                    );
                }
                continue;
            }
            match outcome {
                Outcome::Replayed(r) => panic!("replayed a key never accepted: {command:?} {r:?}"),
                Outcome::Rejected(_) => {}
                Outcome::Accepted(receipt) => {
                    let id = TxnId(first_id + i64::try_from(i).unwrap());
                    assert_eq!(receipt.txn_id, id, "ids are allocated one per command");
                    assert_eq!(receipt.created_at, self.now);
                    self.check_receipt(command, receipt);
                    self.accepted
                        .insert(key.to_owned(), (command.clone(), receipt.clone()));
                    self.accepted_in_order.push(key.to_owned());
                    new_txns.push(receipt.txn_id);
                    accepted_now += 1;
                }
            }
        }
        // Exactly one journal entry per accepted command: replays and refusals write nothing.
        assert_eq!(self.ledger.journal.len(), journal_before + accepted_now);
        self.txns.extend(new_txns);
        // Pendings this batch refused will never exist; keep the ones that do.
        let ledger = &self.ledger;
        self.pendings
            .retain(|(id, _)| ledger.pendings.contains_key(id));
        self.check_ledger();
        self.check_replays();
    }

    fn tariff(
        &self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        amount: i64,
    ) -> (i64, i64) {
        let currency = self.ledger.accounts[&debit].currency;
        let t = &self.rules.currencies[&currency].tariffs;
        let earns = |float: AccountId| self.ledger.accounts[&float].commission_account.is_some();
        match kind {
            TxnKind::Transfer => (t.send.fee_for(amount), 0),
            TxnKind::Withdrawal => (
                t.withdraw.fee_for(amount),
                if earns(credit) {
                    t.commission_withdrawal.fee_for(amount)
                } else {
                    0
                },
            ),
            TxnKind::Deposit => (
                0,
                if earns(debit) {
                    t.commission_deposit.fee_for(amount)
                } else {
                    0
                },
            ),
            TxnKind::MerchantPayment | TxnKind::Purchase => (t.merchant.fee_for(amount), 0),
            _ => (0, 0),
        }
    }

    /// What an accepted command must have done, from the model's side.
    fn check_receipt(&mut self, command: &Command, receipt: &Receipt) {
        assert_eq!(
            receipt.code.len(),
            10,
            "every receipt carries a transaction code"
        );
        match command {
            Command::Submit(r) => {
                let currency_rules = &self.rules.currencies[&r.amount.currency()];
                let amount = r.amount.minor();
                assert!(amount >= currency_rules.minimum_for(r.kind));
                assert!(amount <= currency_rules.amount_max_for(r.kind));
                assert_ne!(r.debit, r.credit);
                assert_eq!(receipt.kind, r.kind);
                assert_eq!(receipt.amount, r.amount);
                assert_eq!((receipt.debit, receipt.credit), (r.debit, r.credit));
                assert_eq!(receipt.related, None);
                for side in [r.debit, r.credit] {
                    let account = &self.ledger.accounts[&side];
                    assert_eq!(account.currency, r.amount.currency());
                    assert_eq!(account.status, AccountStatus::Active);
                    // Tier limits bind a customer wallet on either side.
                    if account.kind == AccountKind::CustomerWallet {
                        let tier = &currency_rules.tiers[account.tier.index()];
                        assert!(amount <= tier.per_transaction_minor, "{r:?}");
                    }
                }
                let (fee, commission) = self.tariff(r.kind, r.debit, r.credit, amount);
                match r.pending_expiry_seconds {
                    None => {
                        assert_eq!(receipt.phase, Phase::Posted);
                        assert_eq!(
                            (receipt.fee_minor, receipt.commission_minor),
                            (fee, commission)
                        );
                        assert_eq!(receipt.expires_at, None);
                    }
                    Some(seconds) => {
                        assert!((1..=self.rules.pending.expiry_max_seconds).contains(&seconds));
                        assert_eq!(receipt.phase, Phase::Pending);
                        // Only what the payer owes is reserved with the principal.
                        let payer_fee = match r.kind {
                            TxnKind::Transfer | TxnKind::Withdrawal => fee,
                            _ => 0,
                        };
                        assert_eq!(
                            (receipt.fee_minor, receipt.commission_minor),
                            (payer_fee, 0)
                        );
                        assert_eq!(
                            receipt.expires_at,
                            Some(self.now.saturating_add_seconds(seconds))
                        );
                    }
                }
            }
            Command::PostPending {
                pending,
                amount_minor,
                ..
            } => {
                let p = self.ledger.pendings[pending].clone();
                assert!(
                    self.resolved.insert(*pending),
                    "pending {pending:?} resolved twice"
                );
                assert!(self.now < p.expires_at, "posted after expiry");
                let amount = amount_minor.unwrap_or(p.amount_minor);
                assert!(0 < amount && amount <= p.amount_minor);
                assert_eq!(receipt.phase, Phase::PostPending);
                assert_eq!(receipt.related, Some(*pending));
                assert_eq!(receipt.amount, Money::from_minor(amount, p.currency));
                let (fee, commission) = self.tariff(p.kind, p.debit, p.credit, amount);
                assert_eq!(
                    (receipt.fee_minor, receipt.commission_minor),
                    (fee, commission)
                );
            }
            Command::VoidPending {
                pending, reason, ..
            } => {
                let p = self.ledger.pendings[pending].clone();
                assert!(
                    self.resolved.insert(*pending),
                    "pending {pending:?} resolved twice"
                );
                if *reason == VoidReason::Expired {
                    assert!(self.now >= p.expires_at, "expired before its time");
                }
                assert_eq!(receipt.phase, Phase::VoidPending);
                assert_eq!(receipt.related, Some(*pending));
                assert_eq!(receipt.amount.minor(), p.amount_minor);
                assert_eq!((receipt.fee_minor, receipt.commission_minor), (0, 0));
            }
            Command::Reverse { original, .. } => {
                let o = self
                    .ledger
                    .journal
                    .iter()
                    .find(|e| e.receipt.txn_id == *original)
                    .unwrap()
                    .receipt
                    .clone();
                assert!(o.kind.reversible());
                assert!(matches!(o.phase, Phase::Posted | Phase::PostPending));
                let window = self.rules.reversal.window_seconds;
                assert!(self.now <= o.created_at.saturating_add_seconds(window));
                assert_eq!(receipt.kind, TxnKind::Reversal);
                assert_eq!(receipt.related, Some(*original));
                for side in [o.debit, o.credit] {
                    let account = &self.ledger.accounts[&side];
                    assert_eq!(account.status, AccountStatus::Active);
                    assert!(
                        !account.blacklisted,
                        "reversal touched a blacklisted account"
                    );
                }
                assert_eq!((receipt.debit, receipt.credit), (o.credit, o.debit));
                let (sum, count) = self.reversed.entry(*original).or_default();
                *sum += receipt.amount.minor();
                *count += 1;
                assert!(receipt.amount.minor() > 0);
                assert!(*sum <= o.amount.minor(), "reversed more than was sent");
                assert!(*count <= self.rules.reversal.attempts_max);
            }
            Command::Refund { original, .. } => {
                let o = self
                    .ledger
                    .journal
                    .iter()
                    .find(|e| e.receipt.txn_id == *original)
                    .unwrap()
                    .receipt
                    .clone();
                assert!(matches!(
                    o.kind,
                    TxnKind::MerchantPayment | TxnKind::Purchase
                ));
                assert!(matches!(o.phase, Phase::Posted | Phase::PostPending));
                let window = self.rules.refund.window_seconds;
                assert!(self.now <= o.created_at.saturating_add_seconds(window));
                assert_eq!(receipt.kind, TxnKind::Refund);
                assert_eq!(receipt.related, Some(*original));
                assert_eq!((receipt.debit, receipt.credit), (o.credit, o.debit));
                // Refunds and reversals share one tally: together never more than was paid.
                let (sum, _) = self.reversed.entry(*original).or_default();
                *sum += receipt.amount.minor();
                assert!(receipt.amount.minor() > 0);
                assert!(*sum <= o.amount.minor(), "refunded more than was paid");
            }
            Command::Charge { .. } => {
                unreachable!("the generator makes no allowance charges; rules.rs covers them")
            }
        }
    }

    /// Today's outgoing value per account, rebuilt from the journal: every posted or reserved
    /// principal paid today, less what today's pendings gave back when voided or posted in part.
    fn day_debits_from_journal(&self) -> HashMap<AccountId, i64> {
        let offset = self.rules.utc_offset_seconds;
        let today = self.now.day_number(offset);
        let mut used: HashMap<AccountId, i64> = HashMap::new();
        for entry in &self.ledger.journal {
            let r = &entry.receipt;
            if r.created_at.day_number(offset) != today || r.kind == TxnKind::Reversal {
                continue;
            }
            let delta = match r.phase {
                Phase::Posted | Phase::Pending => r.amount.minor(),
                Phase::PostPending | Phase::VoidPending => {
                    let pending = &self.ledger.pendings[&r.related.unwrap()];
                    if pending.day_number != today {
                        continue;
                    }
                    let posted = if r.phase == Phase::PostPending {
                        r.amount.minor()
                    } else {
                        0
                    };
                    posted - pending.amount_minor
                }
            };
            *used.entry(r.debit).or_default() += delta;
        }
        used
    }

    /// Whole-ledger invariants after a batch.
    fn check_ledger(&self) {
        let report = self.ledger.reconcile();
        assert!(report.balanced(), "{:?}", report.mismatches);
        let today = self.now.day_number(self.rules.utc_offset_seconds);
        let used = self.day_debits_from_journal();
        for a in self.ledger.accounts.values() {
            assert!(
                a.pending_debits_minor >= 0 && a.pending_credits_minor >= 0,
                "{a:?}"
            );
            if a.kind.has_floor() {
                let available = a.available_minor().unwrap();
                assert!(available >= 0, "below the floor: {a:?}");
            }
            if a.kind == AccountKind::CustomerWallet {
                let limits = &self.rules.currencies[&a.currency].tiers[a.tier.index()];
                assert!(a.debits_on(today) <= limits.daily_debits_minor, "{a:?}");
                let expected = used.get(&a.id).copied().unwrap_or(0);
                assert_eq!(a.debits_on(today), expected, "daily usage of {a:?}");
            }
        }
        for id in &self.resolved {
            assert_ne!(
                self.ledger.pendings[id].status,
                mkoba_ledger::PendingStatus::Open
            );
        }
    }

    /// Replays a sample of accepted commands as a batch of their own: each gets its receipt
    /// back and nothing in the ledger changes.
    fn check_replays(&mut self) {
        let n = self.accepted_in_order.len();
        if n == 0 {
            return;
        }
        let stride = n.div_ceil(8);
        let offset = usize::try_from(self.batches).unwrap() % stride;
        let sample: Vec<String> = self
            .accepted_in_order
            .iter()
            .skip(offset)
            .step_by(stride)
            .chain(self.accepted_in_order.last())
            .cloned()
            .collect();
        self.replay(&sample, self.now);
    }

    fn replay(&mut self, keys: &[String], now: Timestamp) {
        let commands: Vec<Command> = keys.iter().map(|k| self.accepted[k].0.clone()).collect();
        let accounts = self.ledger.accounts.clone();
        let pendings = self.ledger.pendings.clone();
        let journal = self.ledger.journal.len();
        self.steps.push(Step::Batch(commands.clone(), now));
        let outcomes = self.ledger.execute(&commands, now);
        self.next_id += i64::try_from(commands.len()).unwrap();
        for (key, outcome) in keys.iter().zip(&outcomes) {
            assert_eq!(outcome, &Outcome::Replayed(self.accepted[key].1.clone()));
        }
        assert_eq!(self.ledger.accounts, accounts, "a replay changed a balance");
        assert_eq!(self.ledger.pendings, pendings, "a replay changed a pending");
        assert_eq!(
            self.ledger.journal.len(),
            journal,
            "a replay wrote to the journal"
        );
    }
}

fn outcomes_of(ledger: &mut MemoryLedger, steps: &[Step], splits: &[bool]) -> Vec<Outcome> {
    let mut all = Vec::new();
    let mut cut = splits.iter().cycle();
    for step in steps {
        match step {
            Step::Status(account, change) => apply_status(ledger, *account, *change),
            Step::Batch(commands, now) => {
                let mut group = Vec::new();
                for command in commands {
                    group.push(command.clone());
                    if *cut.next().unwrap() {
                        all.extend(ledger.execute(&group, *now));
                        group.clear();
                    }
                }
                if !group.is_empty() {
                    all.extend(ledger.execute(&group, *now));
                }
                let report = ledger.reconcile();
                assert!(report.balanced(), "{:?}", report.mismatches);
            }
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 2_048,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_command_sequences_keep_the_ledger_sound(
        ops in prop::collection::vec(op(), 1..200),
        splits in prop::collection::vec(any::<bool>(), 1..32),
        tight in any::<bool>(),
    ) {
        let mut run = Run::new(rules(tight));
        run.opening();
        for op in &ops {
            run.apply(op);
        }
        run.flush();

        // Long after everything expired and every window closed, every accepted command still
        // replays to its receipt and moves nothing.
        let later = run.now.saturating_add_seconds(400 * 86_400);
        let keys = run.accepted_in_order.clone();
        if !keys.is_empty() {
            run.replay(&keys, later);
        }
        run.check_ledger();

        // The same commands in different batches give the same outcomes and the same ledger.
        // (Reversals name only transactions from earlier batches, which both runs can see.)
        let (mut first, _) = open_ledger(rules(tight));
        let (mut regrouped, _) = open_ledger(rules(tight));
        let as_run = outcomes_of(&mut first, &run.steps, &[false]);
        let split = outcomes_of(&mut regrouped, &run.steps, &splits);
        prop_assert_eq!(&as_run, &split);
        prop_assert_eq!(&first.accounts, &run.ledger.accounts);
        prop_assert_eq!(&regrouped.accounts, &first.accounts);
        prop_assert_eq!(&regrouped.pendings, &first.pendings);
        prop_assert_eq!(&regrouped.journal, &first.journal);
    }
}
