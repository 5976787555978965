//! Scenario tests for the ledger rules, run through the in-memory store.
//!
//! Each test arranges accounts and money, acts with one or more batches, and asserts exact values:
//! balances to the minor unit, fee and commission amounts, receipt fields and rejection names.
//! Every batch is followed by `reconcile()`, which must stay balanced (see `World::execute`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cell::Cell;
use std::collections::BTreeSet;

use mkoba_ledger::memory::MemoryLedger;
use mkoba_ledger::rules::{bounds, Band, Bands, CurrencyRules, TierLimits};
use mkoba_ledger::{
    AccountId, AccountKind, AccountStatus, AllowanceId, AllowanceState, AmountError, Command,
    Currency, LedgerRules, Leg, Money, Outcome, PendingStatus, Phase, Posting, Receipt, Rejection,
    Tier, Timestamp, TxnCodes, TxnId, TxnKind, TxnRequest, VoidReason,
};

const KES: Currency = Currency::KES;
const UGX: Currency = Currency::UGX;

/// 2024-03-01 07:00:00 UTC, which is 10:00 in Nairobi (UTC+3, the default operator offset).
const T0_SECONDS: i64 = 1_709_276_400;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Whole shillings in minor units (cents).
const fn ksh(whole: i64) -> i64 {
    whole * 100
}

/// The key `MemoryLedger` uses for its transaction codes.
const MEMORY_CODE_KEY: u64 = 7;

/// Kenyan defaults plus a UGX entry cloned from KES: 1 KES = 30 UGX, and UGX has no minor unit,
/// so every KES amount in cents becomes `cents * 30 / 100` UGX. Contiguous bands stay contiguous.
fn rules_with_ugx() -> LedgerRules {
    let mut rules = LedgerRules::kenya_defaults();
    let kes = rules.currencies[&KES].clone();
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
    rules.currencies.insert(UGX, ugx);
    assert_eq!(rules.validate(), Ok(()));
    rules
}

/// A ledger, a clock and helpers to build commands with fresh idempotency keys.
struct World {
    ledger: MemoryLedger,
    now: Timestamp,
    keys: Cell<u32>,
    revenue: AccountId,
    issuance: AccountId,
    /// A super-agent float with no commission account, used to fund wallets without touching
    /// fee revenue, so that fee and commission assertions stay exact.
    funder: AccountId,
}

impl World {
    fn new() -> World {
        World::with_rules(LedgerRules::kenya_defaults())
    }

    fn with_rules(rules: LedgerRules) -> World {
        assert_eq!(rules.validate(), Ok(()));
        let mut ledger = MemoryLedger::new(rules);
        let revenue = ledger.fee_revenue(KES).unwrap();
        let issuance = ledger.issuance(KES).unwrap();
        let funder = ledger.open(AccountKind::AgentFloat, KES, Tier::Tier2);
        World {
            ledger,
            now: Timestamp(T0_SECONDS * Timestamp::MICROS_PER_SECOND),
            keys: Cell::new(0),
            revenue,
            issuance,
            funder,
        }
    }

    fn key(&self) -> String {
        self.keys.set(self.keys.get() + 1);
        format!("key-{}", self.keys.get())
    }

    fn request(
        &self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        amount: Money,
    ) -> TxnRequest {
        TxnRequest {
            idempotency_key: self.key(),
            kind,
            debit,
            credit,
            amount,
            memo: String::new(),
            metadata: String::new(),
            pending_expiry_seconds: None,
        }
    }

    /// A KES command that posts at once.
    fn submit(&self, kind: TxnKind, debit: AccountId, credit: AccountId, minor: i64) -> Command {
        Command::Submit(self.request(kind, debit, credit, Money::from_minor(minor, KES)))
    }

    fn submit_money(
        &self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        amount: Money,
    ) -> Command {
        Command::Submit(self.request(kind, debit, credit, amount))
    }

    /// A KES command that only reserves, lapsing after `expiry_seconds`.
    fn pending(
        &self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        minor: i64,
        expiry_seconds: i64,
    ) -> Command {
        let mut request = self.request(kind, debit, credit, Money::from_minor(minor, KES));
        request.pending_expiry_seconds = Some(expiry_seconds);
        Command::Submit(request)
    }

    fn post(&self, pending: TxnId, amount_minor: Option<i64>) -> Command {
        Command::PostPending {
            idempotency_key: self.key(),
            pending,
            amount_minor,
        }
    }

    fn void(&self, pending: TxnId, reason: VoidReason) -> Command {
        Command::VoidPending {
            idempotency_key: self.key(),
            pending,
            reason,
        }
    }

    fn reverse(&self, original: TxnId) -> Command {
        Command::Reverse {
            idempotency_key: self.key(),
            original,
            memo: "customer asked".into(),
        }
    }

    fn refund(&self, original: TxnId, amount_minor: Option<i64>) -> Command {
        Command::Refund {
            idempotency_key: self.key(),
            original,
            amount_minor,
            memo: "refund".into(),
        }
    }

    fn charge(&self, allowance: AllowanceId, minor: i64) -> Command {
        Command::Charge {
            idempotency_key: self.key(),
            allowance,
            amount: Money::from_minor(minor, KES),
            memo: "article".into(),
            metadata: String::new(),
        }
    }

    /// An active allowance for `merchant` on `wallet`, lasting `seconds` from now.
    fn grant(
        &mut self,
        wallet: AccountId,
        merchant: AccountId,
        cap_minor: i64,
        per_charge_max_minor: i64,
        seconds: i64,
    ) -> AllowanceId {
        let id = AllowanceId(i64::try_from(self.ledger.allowances.len()).unwrap() + 1);
        self.ledger.allowances.insert(
            id,
            AllowanceState {
                id,
                wallet,
                merchant,
                currency: KES,
                cap_minor,
                spent_minor: 0,
                per_charge_max_minor,
                expires_at: self.now.saturating_add_seconds(seconds),
                active: true,
            },
        );
        id
    }

    /// Runs one batch at `now` and checks the whole ledger still reconciles.
    fn execute(&mut self, commands: &[Command]) -> Vec<Outcome> {
        let outcomes = self.ledger.execute(commands, self.now);
        self.assert_reconciled();
        outcomes
    }

    fn run(&mut self, command: Command) -> Outcome {
        let mut outcomes = self.execute(&[command]);
        assert_eq!(outcomes.len(), 1);
        outcomes.remove(0)
    }

    #[track_caller]
    fn accept(&mut self, command: Command) -> Receipt {
        match self.run(command) {
            Outcome::Accepted(receipt) => receipt,
            other => panic!("expected acceptance, got {other:?}"),
        }
    }

    /// Runs a command expected to be refused, and checks the refusal changed no account.
    #[track_caller]
    fn reject(&mut self, command: Command) -> Rejection {
        let accounts = self.ledger.accounts.clone();
        let pendings = self.ledger.pendings.clone();
        let journal = self.ledger.journal.len();
        let rejection = match self.run(command) {
            Outcome::Rejected(rejection) => rejection,
            other => panic!("expected a rejection, got {other:?}"),
        };
        assert_eq!(
            self.ledger.accounts, accounts,
            "a rejection changed an account"
        );
        assert_eq!(
            self.ledger.pendings, pendings,
            "a rejection changed a pending"
        );
        assert_eq!(
            self.ledger.journal.len(),
            journal,
            "a rejection wrote a journal entry"
        );
        rejection
    }

    fn assert_reconciled(&self) {
        let report = self.ledger.reconcile();
        assert!(
            report.balanced(),
            "ledger does not reconcile: {:?}",
            report.mismatches
        );
    }

    fn wallet(&mut self, tier: Tier) -> AccountId {
        self.ledger.open(AccountKind::CustomerWallet, KES, tier)
    }

    fn merchant(&mut self) -> AccountId {
        self.ledger.open(AccountKind::Merchant, KES, Tier::Tier2)
    }

    fn agent(&mut self) -> (AccountId, AccountId) {
        self.ledger.open_agent(KES)
    }

    fn issue_float(&mut self, float: AccountId, minor: i64) -> Receipt {
        let command = self.submit(TxnKind::FloatIssuance, self.issuance, float, minor);
        self.accept(command)
    }

    /// Credits `minor` to a KES wallet through cash-ins at the funding super-agent (no fee, no
    /// commission), split to respect the wallet's per-transaction limit.
    fn fund(&mut self, wallet: AccountId, minor: i64) {
        let tier = self.ledger.accounts[&wallet].tier;
        let per_txn = self.ledger.rules.currencies[&KES].tiers[tier.index()].per_transaction_minor;
        self.issue_float(self.funder, minor);
        let mut left = minor;
        while left > 0 {
            let chunk = left.min(per_txn);
            let command = self.submit(TxnKind::Deposit, self.funder, wallet, chunk);
            let receipt = self.accept(command);
            assert_eq!((receipt.fee_minor, receipt.commission_minor), (0, 0));
            left -= chunk;
        }
    }

    fn balance(&self, id: AccountId) -> i64 {
        self.ledger.accounts[&id].balance_minor
    }

    fn available(&self, id: AccountId) -> i64 {
        self.ledger.accounts[&id].available_minor().unwrap()
    }

    fn pending_debits(&self, id: AccountId) -> i64 {
        self.ledger.accounts[&id].pending_debits_minor
    }

    fn pending_credits(&self, id: AccountId) -> i64 {
        self.ledger.accounts[&id].pending_credits_minor
    }

    /// Outgoing value counted against today's limit.
    fn day_debits(&self, id: AccountId) -> i64 {
        let today = self.now.day_number(self.ledger.rules.utc_offset_seconds);
        self.ledger.accounts[&id].debits_on(today)
    }

    fn set_status(&mut self, id: AccountId, status: AccountStatus) {
        self.ledger.accounts.get_mut(&id).unwrap().status = status;
    }

    fn set_blacklisted(&mut self, id: AccountId, blacklisted: bool) {
        self.ledger.accounts.get_mut(&id).unwrap().blacklisted = blacklisted;
    }

    fn advance_seconds(&mut self, seconds: i64) {
        self.now = self.now.saturating_add_seconds(seconds);
    }

    fn postings_of(&self, txn: TxnId) -> Vec<Posting> {
        self.entry(txn).postings.clone()
    }

    fn entry(&self, txn: TxnId) -> &mkoba_ledger::JournalEntry {
        self.ledger
            .journal
            .iter()
            .find(|e| e.receipt.txn_id == txn)
            .unwrap()
    }

    fn pending_status(&self, txn: TxnId) -> PendingStatus {
        self.ledger.pendings[&txn].status
    }
}

fn posting(leg: Leg, debit: AccountId, credit: AccountId, amount_minor: i64) -> Posting {
    Posting {
        leg,
        debit,
        credit,
        amount_minor,
    }
}

fn with_key(mut command: Command, key: &str) -> Command {
    match &mut command {
        Command::Submit(r) => r.idempotency_key = key.to_owned(),
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
        } => *idempotency_key = key.to_owned(),
    }
    command
}

fn with_memo(mut command: Command, memo: &str) -> Command {
    if let Command::Submit(r) = &mut command {
        r.memo = memo.to_owned();
    }
    command
}

// ---------------------------------------------------------------------------------------------
// Tariffs: cash-in, cash-out, transfers and merchant payments.
// ---------------------------------------------------------------------------------------------

#[test]
fn float_issuance_then_cash_in_pays_agent_commission_from_fee_revenue() {
    let mut w = World::new();
    let (float, commission) = w.agent();
    let customer = w.wallet(Tier::Tier0);

    let issue = w.issue_float(float, ksh(50_000));
    assert_eq!(issue.kind, TxnKind::FloatIssuance);
    assert_eq!(issue.phase, Phase::Posted);
    assert_eq!(issue.amount, Money::from_minor(5_000_000, KES));
    assert_eq!((issue.fee_minor, issue.commission_minor), (0, 0));
    assert_eq!((issue.debit, issue.credit), (w.issuance, float));
    assert_eq!(w.balance(w.issuance), -5_000_000);
    assert_eq!(w.balance(float), 5_000_000);

    let cash_in = w.submit(TxnKind::Deposit, float, customer, ksh(1_000));
    let receipt = w.accept(cash_in);

    // 1,000.00 falls in the 501–2,500 commission band: the agent earns 15.00, paid by revenue.
    assert_eq!(receipt.kind, TxnKind::Deposit);
    assert_eq!(receipt.phase, Phase::Posted);
    assert_eq!(receipt.amount, Money::from_minor(100_000, KES));
    assert_eq!(receipt.fee_minor, 0);
    assert_eq!(receipt.commission_minor, 1_500);
    assert_eq!((receipt.debit, receipt.credit), (float, customer));
    assert_eq!(receipt.related, None);
    assert_eq!(receipt.created_at, w.now);
    assert_eq!(receipt.expires_at, None);
    assert_eq!(receipt.code.len(), 10);
    assert_eq!(
        receipt.code,
        TxnCodes::new(MEMORY_CODE_KEY).code_for(receipt.txn_id)
    );
    assert_eq!(
        TxnCodes::new(MEMORY_CODE_KEY).id_for(&receipt.code),
        Some(receipt.txn_id)
    );

    assert_eq!(w.balance(float), 4_900_000);
    assert_eq!(w.balance(customer), 100_000);
    assert_eq!(w.balance(w.revenue), -1_500);
    assert_eq!(w.balance(commission), 1_500);
    assert_eq!(w.balance(w.issuance), -5_000_000);
    assert_eq!(
        w.postings_of(receipt.txn_id),
        vec![
            posting(Leg::Principal, float, customer, 100_000),
            posting(Leg::Commission, w.revenue, commission, 1_500),
        ]
    );

    let report = w.ledger.reconcile();
    let kes = &report.currencies[&KES];
    assert_eq!(kes.issued_minor, 5_000_000);
    assert_eq!(kes.emoney_in_circulation_minor, 5_000_000);
    assert_eq!(kes.balance_sum_minor, 0);
    assert_eq!(kes.by_kind_minor[&AccountKind::FeeRevenue], -1_500);
    assert_eq!(kes.by_kind_minor[&AccountKind::AgentCommission], 1_500);
    assert_eq!(kes.by_kind_minor[&AccountKind::CustomerWallet], 100_000);

    // A super-agent float has no commission account, so it earns nothing.
    let plain = w.submit(TxnKind::Deposit, w.funder, customer, ksh(1_000));
    w.issue_float(w.funder, ksh(1_000));
    let receipt = w.accept(plain);
    assert_eq!(receipt.commission_minor, 0);
    assert_eq!(w.balance(w.revenue), -1_500);
    assert_eq!(w.balance(customer), 200_000);

    // Below the first commission band (50.00) the agent earns nothing either.
    let small = w.submit(TxnKind::Deposit, float, customer, ksh(49));
    let receipt = w.accept(small);
    assert_eq!(receipt.commission_minor, 0);
    assert_eq!(w.postings_of(receipt.txn_id).len(), 1);
    assert_eq!(w.balance(commission), 1_500);
}

#[test]
fn withdrawal_charges_the_customer_a_fee_and_pays_the_agent_commission() {
    let mut w = World::new();
    let (float, commission) = w.agent();
    let customer = w.wallet(Tier::Tier1);
    w.fund(customer, ksh(5_000));

    let cash_out = w.submit(TxnKind::Withdrawal, customer, float, ksh(2_500));
    let receipt = w.accept(cash_out);

    // 2,500.00: withdraw fee band 101–2,500 costs 29.00; commission band 501–2,500 pays 15.00.
    assert_eq!(receipt.kind, TxnKind::Withdrawal);
    assert_eq!(receipt.fee_minor, 2_900);
    assert_eq!(receipt.commission_minor, 1_500);
    assert_eq!((receipt.debit, receipt.credit), (customer, float));
    assert_eq!(w.balance(customer), 500_000 - 250_000 - 2_900);
    assert_eq!(w.balance(float), 250_000);
    assert_eq!(w.balance(w.revenue), 2_900 - 1_500);
    assert_eq!(w.balance(commission), 1_500);
    assert_eq!(
        w.postings_of(receipt.txn_id),
        vec![
            posting(Leg::Principal, customer, float, 250_000),
            posting(Leg::Fee, customer, w.revenue, 2_900),
            posting(Leg::Commission, w.revenue, commission, 1_500),
        ]
    );
    // Only the principal counts against the daily limit.
    assert_eq!(w.day_debits(customer), 250_000);

    // The smallest withdrawal: 50.00 costs 11.00 and earns the agent 4.00.
    let minimum = w.submit(TxnKind::Withdrawal, customer, float, ksh(50));
    let receipt = w.accept(minimum);
    assert_eq!((receipt.fee_minor, receipt.commission_minor), (1_100, 400));
    assert_eq!(w.balance(customer), 247_100 - 5_000 - 1_100);
    assert_eq!(w.balance(float), 255_000);
    assert_eq!(w.balance(w.revenue), 1_400 + 1_100 - 400);
    assert_eq!(w.balance(commission), 1_900);
    assert_eq!(w.day_debits(customer), 255_000);
}

#[test]
fn transfer_charges_the_sender_the_kenyan_send_band() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier2);
    let receiver = w.wallet(Tier::Tier2);
    w.fund(sender, ksh(100_000));

    // (amount, fee) at the edges of the published bands.
    let cases = [
        (50, 0),             // 0.50: below every band, free
        (ksh(100), 0),       // 100.00: free band
        (10_099, 0),         // 100.99: still free
        (ksh(101), 700),     // 101.00
        (50_099, 700),       // 500.99
        (ksh(501), 1_300),   // 501.00
        (ksh(1_000), 1_300), // 1,000.00
        (100_099, 1_300),    // 1,000.99
        (ksh(1_001), 2_300), // 1,001.00
        (ksh(20_000), 10_500),
        (ksh(50_000), 10_800),
    ];
    let mut sender_balance = ksh(100_000);
    let mut receiver_balance = 0;
    let mut revenue = 0;
    for (amount, fee) in cases {
        let transfer = w.submit(TxnKind::Transfer, sender, receiver, amount);
        let receipt = w.accept(transfer);
        assert_eq!(receipt.fee_minor, fee, "fee on {amount}");
        assert_eq!(receipt.commission_minor, 0);
        assert_eq!(receipt.amount, Money::from_minor(amount, KES));
        sender_balance -= amount + fee;
        receiver_balance += amount;
        revenue += fee;
        assert_eq!(w.balance(sender), sender_balance);
        assert_eq!(w.balance(receiver), receiver_balance);
        assert_eq!(w.balance(w.revenue), revenue);
        let mut expected = vec![posting(Leg::Principal, sender, receiver, amount)];
        if fee > 0 {
            expected.push(posting(Leg::Fee, sender, w.revenue, fee));
        }
        assert_eq!(w.postings_of(receipt.txn_id), expected);
    }
    assert_eq!(revenue, 700 * 2 + 1_300 * 3 + 2_300 + 10_500 + 10_800);
    assert_eq!(
        w.day_debits(sender),
        ksh(100_000) - sender_balance - revenue
    );
}

#[test]
fn merchant_payment_fee_is_half_a_percent_capped_and_paid_by_the_merchant() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier2);
    let merchant = w.merchant();
    w.fund(payer, ksh(100_000));

    let pay = w.submit(TxnKind::MerchantPayment, payer, merchant, ksh(10_000));
    let receipt = w.accept(pay);
    assert_eq!(receipt.kind, TxnKind::MerchantPayment);
    assert_eq!(receipt.fee_minor, 5_000); // 0.5% of 10,000.00
    assert_eq!((receipt.debit, receipt.credit), (payer, merchant));
    assert_eq!(w.balance(payer), ksh(90_000)); // the payer pays exactly the price
    assert_eq!(w.balance(merchant), 1_000_000 - 5_000);
    assert_eq!(w.balance(w.revenue), 5_000);
    assert_eq!(
        w.postings_of(receipt.txn_id),
        vec![
            posting(Leg::Principal, payer, merchant, 1_000_000),
            posting(Leg::Fee, merchant, w.revenue, 5_000),
        ]
    );

    // 0.5% of 50,000.00 is 250.00, capped at 200.00.
    let big = w.submit(TxnKind::MerchantPayment, payer, merchant, ksh(50_000));
    let receipt = w.accept(big);
    assert_eq!(receipt.fee_minor, 20_000);
    assert_eq!(w.balance(payer), ksh(40_000));
    assert_eq!(w.balance(merchant), 995_000 + 5_000_000 - 20_000);
    assert_eq!(w.balance(w.revenue), 25_000);

    // Half a cent rounds up (1.01 -> 0.505 -> 0.01); just under it rounds down to no fee leg.
    let odd = w.submit(TxnKind::MerchantPayment, payer, merchant, 101);
    assert_eq!(w.accept(odd).fee_minor, 1);
    let tiny = w.submit(TxnKind::Purchase, payer, merchant, 99);
    let receipt = w.accept(tiny);
    assert_eq!(receipt.kind, TxnKind::Purchase);
    assert_eq!(receipt.fee_minor, 0);
    assert_eq!(w.postings_of(receipt.txn_id).len(), 1);
    assert_eq!(w.balance(payer), ksh(40_000) - 200);
    assert_eq!(w.balance(merchant), 5_975_000 + 200 - 1);
    assert_eq!(w.balance(w.revenue), 25_001);
}

// ---------------------------------------------------------------------------------------------
// Account checks.
// ---------------------------------------------------------------------------------------------

#[test]
fn insufficient_funds_counts_the_fee_and_pending_debits() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(1_000));

    // 1,000.00 plus its 13.00 fee is more than the wallet holds.
    let too_much = w.submit(TxnKind::Transfer, payer, payee, ksh(1_000));
    assert_eq!(w.reject(too_much), Rejection::InsufficientFunds);
    let exact = w.submit(TxnKind::Transfer, payer, payee, ksh(987));
    assert_eq!(w.accept(exact).fee_minor, 1_300);
    assert_eq!(w.balance(payer), 0);

    // Reserve 800.00 (+13.00 fee): 187.00 stays available though 1,000.00 is posted.
    w.fund(payer, ksh(1_000));
    let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(800), HOUR);
    w.accept(hold);
    assert_eq!(w.balance(payer), ksh(1_000));
    assert_eq!(w.available(payer), ksh(187));

    // 187.00 would cost 7.00 more than is available.
    let over = w.submit(TxnKind::Transfer, payer, payee, ksh(187));
    assert_eq!(w.reject(over), Rejection::InsufficientFunds);
    let fits = w.submit(TxnKind::Transfer, payer, payee, ksh(180));
    assert_eq!(w.accept(fits).fee_minor, 700);
    assert_eq!(w.available(payer), 0);
    assert_eq!(w.balance(payer), ksh(813));

    // Posted money that is reserved cannot be spent, not even one cent.
    let cent = w.submit(TxnKind::Transfer, payer, payee, 1);
    assert_eq!(w.reject(cent), Rejection::InsufficientFunds);
    let reserve_more = w.pending(TxnKind::Transfer, payer, payee, 1, HOUR);
    assert_eq!(w.reject(reserve_more), Rejection::InsufficientFunds);
    // The operator's own accounts have no floor: fee revenue may go negative paying commissions.
    assert!(!AccountKind::FeeRevenue.has_floor());
}

#[test]
fn frozen_and_closed_accounts_are_refused_on_either_side() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(5_000));
    let transfer = |w: &World| w.submit(TxnKind::Transfer, payer, payee, ksh(100));

    w.set_status(payee, AccountStatus::Frozen);
    assert_eq!(w.reject(transfer(&w)), Rejection::AccountFrozen);
    w.set_status(payee, AccountStatus::Closed);
    assert_eq!(w.reject(transfer(&w)), Rejection::AccountClosed);
    w.set_status(payee, AccountStatus::Active);

    w.set_status(payer, AccountStatus::Frozen);
    assert_eq!(w.reject(transfer(&w)), Rejection::AccountFrozen);
    w.set_status(payer, AccountStatus::Closed);
    assert_eq!(w.reject(transfer(&w)), Rejection::AccountClosed);
    w.set_status(payer, AccountStatus::Active);

    w.accept(transfer(&w));
    assert_eq!(w.balance(payee), ksh(100));

    // A reservation made before a freeze cannot be posted while frozen, but can be released.
    let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(200), HOUR);
    let pending = w.accept(hold).txn_id;
    w.set_status(payer, AccountStatus::Frozen);
    let post = w.post(pending, None);
    assert_eq!(w.reject(post), Rejection::AccountFrozen);
    let void = w.void(pending, VoidReason::Cancelled);
    w.accept(void);
    assert_eq!(w.pending_debits(payer), 0);
    assert_eq!(w.pending_credits(payee), 0);
    assert_eq!(w.available(payer), ksh(5_000) - ksh(100));
}

#[test]
fn currency_mismatch_between_the_amount_and_the_accounts() {
    let mut w = World::with_rules(rules_with_ugx());
    let kes_payer = w.wallet(Tier::Tier1);
    let kes_payee = w.wallet(Tier::Tier1);
    let ugx_payee = w.ledger.open(AccountKind::CustomerWallet, UGX, Tier::Tier1);
    w.fund(kes_payer, ksh(5_000));

    let across = w.submit(TxnKind::Transfer, kes_payer, ugx_payee, ksh(100));
    assert_eq!(w.reject(across), Rejection::CurrencyMismatch);
    let ugx_amount = w.submit_money(
        TxnKind::Transfer,
        kes_payer,
        kes_payee,
        Money::from_minor(3_000, UGX),
    );
    assert_eq!(w.reject(ugx_amount), Rejection::CurrencyMismatch);

    // Within UGX everything works, priced by the UGX tariff: 30,000 UGX (1,000 KES) costs 390.
    let ugx_issuance = w.ledger.issuance(UGX).unwrap();
    let ugx_revenue = w.ledger.fee_revenue(UGX).unwrap();
    let ugx_agent = w.ledger.open(AccountKind::AgentFloat, UGX, Tier::Tier2);
    let ugx_payer = w.ledger.open(AccountKind::CustomerWallet, UGX, Tier::Tier1);
    let ugx = |minor| Money::from_minor(minor, UGX);
    let issue = w.submit_money(
        TxnKind::FloatIssuance,
        ugx_issuance,
        ugx_agent,
        ugx(100_000),
    );
    w.accept(issue);
    let deposit = w.submit_money(TxnKind::Deposit, ugx_agent, ugx_payer, ugx(50_000));
    w.accept(deposit);
    let send = w.submit_money(TxnKind::Transfer, ugx_payer, ugx_payee, ugx(30_000));
    let receipt = w.accept(send);
    assert_eq!(receipt.fee_minor, 390);
    assert_eq!(w.balance(ugx_payer), 50_000 - 30_000 - 390);
    assert_eq!(w.balance(ugx_payee), 30_000);
    assert_eq!(w.balance(ugx_revenue), 390);
    // KES revenue is untouched, and each currency balances on its own.
    assert_eq!(w.balance(w.revenue), 0);
    let report = w.ledger.reconcile();
    assert_eq!(report.currencies[&UGX].issued_minor, 100_000);
    assert_eq!(report.currencies[&KES].issued_minor, i128::from(ksh(5_000)));
}

#[test]
fn currency_not_enabled_is_refused() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(1_000));
    let tzs = w.submit_money(
        TxnKind::Transfer,
        payer,
        payee,
        Money::from_minor(10_000, Currency::TZS),
    );
    assert_eq!(w.reject(tzs), Rejection::CurrencyNotEnabled);

    // Even between accounts of that currency, the rules must enable it.
    let tzs_a = w
        .ledger
        .open(AccountKind::CustomerWallet, Currency::TZS, Tier::Tier1);
    let tzs_b = w
        .ledger
        .open(AccountKind::CustomerWallet, Currency::TZS, Tier::Tier1);
    let tzs = w.submit_money(
        TxnKind::Transfer,
        tzs_a,
        tzs_b,
        Money::from_minor(10_000, Currency::TZS),
    );
    assert_eq!(w.reject(tzs), Rejection::CurrencyNotEnabled);
}

#[test]
fn account_kinds_must_fit_the_kind_of_transaction() {
    let mut w = World::new();
    let (float, commission) = w.agent();
    let a = w.wallet(Tier::Tier1);
    let b = w.wallet(Tier::Tier1);
    let merchant = w.merchant();
    w.fund(a, ksh(5_000));
    w.issue_float(float, ksh(5_000));

    let refused = [
        (TxnKind::Deposit, a, b),         // a deposit comes from an agent's float
        (TxnKind::Withdrawal, a, b),      // and a withdrawal goes to one
        (TxnKind::Transfer, a, merchant), // paying a merchant is a merchant payment
        (TxnKind::MerchantPayment, float, merchant), // floats do not shop
        (TxnKind::FloatIssuance, float, a), // only issuance issues float
        (TxnKind::FloatTransfer, float, a),
        (TxnKind::Commission, a, commission),
        (TxnKind::Fee, a, b),
    ];
    for (kind, debit, credit) in refused {
        let command = w.submit(kind, debit, credit, ksh(100));
        assert_eq!(
            w.reject(command),
            Rejection::AccountKindNotAllowed,
            "{kind} from {debit:?} to {credit:?}"
        );
    }
    // Reversals are built by the ledger from the original, never submitted.
    let reversal = w.submit(TxnKind::Reversal, a, b, ksh(100));
    assert_eq!(w.reject(reversal), Rejection::ReversalNotAllowed);
    assert_eq!(w.balance(a), ksh(5_000));
}

#[test]
fn debit_and_credit_must_differ() {
    let mut w = World::new();
    let a = w.wallet(Tier::Tier1);
    w.fund(a, ksh(1_000));
    let to_self = w.submit(TxnKind::Transfer, a, a, ksh(100));
    assert_eq!(w.reject(to_self), Rejection::SameAccount);
}

#[test]
fn amounts_below_the_kind_minimum_are_refused() {
    let mut w = World::new();
    let (float, commission) = w.agent();
    let customer = w.wallet(Tier::Tier1);
    w.fund(customer, ksh(1_000));
    w.issue_float(float, ksh(1_000));

    let withdraw = w.submit(TxnKind::Withdrawal, customer, float, 4_999);
    assert_eq!(w.reject(withdraw), Rejection::BelowMinimumAmount);
    let withdraw = w.submit(TxnKind::Withdrawal, customer, float, 5_000);
    w.accept(withdraw);

    let deposit = w.submit(TxnKind::Deposit, float, customer, 999);
    assert_eq!(w.reject(deposit), Rejection::BelowMinimumAmount);
    let deposit = w.submit(TxnKind::Deposit, float, customer, 1_000);
    assert_eq!(w.accept(deposit).commission_minor, 0);

    // Kinds without a minimum need one minor unit; zero and negatives are not amounts at all.
    let cent = w.submit(TxnKind::Transfer, customer, float, 1);
    assert_eq!(w.reject(cent), Rejection::AccountKindNotAllowed);
    let other = w.wallet(Tier::Tier1);
    let cent = w.submit(TxnKind::Transfer, customer, other, 1);
    w.accept(cent);
    let zero = w.submit(TxnKind::Transfer, customer, other, 0);
    assert_eq!(w.reject(zero), Rejection::AmountNotPositive);
    let negative = w.submit(TxnKind::Transfer, customer, other, -100);
    assert_eq!(w.reject(negative), Rejection::AmountNotPositive);
    let huge = w.submit(TxnKind::Transfer, customer, other, ksh(250_000) + 1);
    assert_eq!(w.reject(huge), Rejection::AmountExceedsMaximum);

    assert_eq!(w.balance(customer), ksh(1_000) - 5_000 - 1_100 + 1_000 - 1);
    assert_eq!(w.balance(commission), 400);
}

#[test]
fn operator_movements_have_their_own_larger_maximum() {
    let mut w = World::new();
    let (float, _) = w.agent();
    let other_float = w.ledger.open(AccountKind::AgentFloat, KES, Tier::Tier2);
    let a = w.wallet(Tier::Tier2);
    let b = w.wallet(Tier::Tier2);
    w.fund(a, ksh(250_000));
    let rules = &w.ledger.rules.currencies[&KES];
    assert_eq!(rules.amount_max_minor, ksh(250_000));
    assert_eq!(rules.operator_amount_max_minor, ksh(100_000_000));
    assert_eq!(
        rules.amount_max_for(TxnKind::FloatIssuance),
        ksh(100_000_000)
    );
    assert_eq!(rules.amount_max_for(TxnKind::Transfer), ksh(250_000));

    // Float moves far above any customer's maximum, up to the operator's.
    let big = w.issue_float(float, ksh(100_000_000));
    assert_eq!(big.amount.minor(), ksh(100_000_000));
    let over = w.submit(
        TxnKind::FloatIssuance,
        w.issuance,
        float,
        ksh(100_000_000) + 1,
    );
    assert_eq!(w.reject(over), Rejection::AmountExceedsMaximum);
    let moved = w.submit(TxnKind::FloatTransfer, float, other_float, ksh(1_000_000));
    assert_eq!(w.accept(moved).fee_minor, 0);
    assert_eq!(w.balance(other_float), ksh(1_000_000));

    // Customer-facing kinds stay at 250,000.00, on any tier.
    let transfer = w.submit(TxnKind::Transfer, a, b, ksh(250_000) + 1);
    assert_eq!(w.reject(transfer), Rejection::AmountExceedsMaximum);
    let cash_in = w.submit(TxnKind::Deposit, float, b, ksh(250_000) + 1);
    assert_eq!(w.reject(cash_in), Rejection::AmountExceedsMaximum);
    assert_eq!(w.balance(float), ksh(100_000_000 - 1_000_000));
}

#[test]
fn validation_bounds_both_maxima() {
    for (customer, operator, ok) in [
        (ksh(250_000), ksh(100_000_000), true),
        (ksh(250_000), bounds::AMOUNT_MAX_MINOR, true),
        (ksh(250_000), bounds::AMOUNT_MAX_MINOR + 1, false),
        (ksh(250_000), i64::MAX, false),
        (ksh(250_000), 0, false),
        (ksh(250_000), -1, false),
        (0, ksh(100_000_000), false),
        (bounds::AMOUNT_MAX_MINOR + 1, ksh(100_000_000), false),
    ] {
        let mut rules = LedgerRules::kenya_defaults();
        let kes = rules.currencies.get_mut(&KES).unwrap();
        kes.amount_max_minor = customer;
        kes.operator_amount_max_minor = operator;
        assert_eq!(rules.validate().is_ok(), ok, "{customer} / {operator}");
    }
    assert_eq!(rules_with_ugx().validate(), Ok(()));
}

// ---------------------------------------------------------------------------------------------
// Tier limits.
// ---------------------------------------------------------------------------------------------

#[test]
fn per_transaction_limit_binds_customer_wallets_on_either_side() {
    let mut w = World::new();
    let (float, _) = w.agent();
    let tier0 = w.wallet(Tier::Tier0);
    let tier1 = w.wallet(Tier::Tier1);
    let tier2 = w.wallet(Tier::Tier2);
    w.fund(tier0, ksh(30_000));
    w.fund(tier1, ksh(200_000));
    w.fund(tier2, ksh(50_000));
    w.issue_float(float, ksh(100_000));

    let over = w.submit(TxnKind::Transfer, tier0, tier2, ksh(20_000) + 1);
    assert_eq!(w.reject(over), Rejection::ExceedsTransactionLimit);
    let at_limit = w.submit(TxnKind::Transfer, tier0, tier2, ksh(20_000));
    w.accept(at_limit);

    // The receiving tier-0 wallet is bound as well, and so are cash-ins and cash-outs.
    let into_tier0 = w.submit(TxnKind::Transfer, tier2, tier0, ksh(20_000) + 1);
    assert_eq!(w.reject(into_tier0), Rejection::ExceedsTransactionLimit);
    let cash_in = w.submit(TxnKind::Deposit, float, tier0, ksh(20_000) + 1);
    assert_eq!(w.reject(cash_in), Rejection::ExceedsTransactionLimit);

    let over = w.submit(TxnKind::Transfer, tier1, tier2, ksh(150_000) + 1);
    assert_eq!(w.reject(over), Rejection::ExceedsTransactionLimit);
    let at_limit = w.submit(TxnKind::Transfer, tier1, tier2, ksh(150_000));
    assert_eq!(w.accept(at_limit).fee_minor, 10_800);
    let cash_out = w.submit(TxnKind::Withdrawal, tier1, float, ksh(20_000));
    w.accept(cash_out);

    assert_eq!(w.balance(tier2), ksh(50_000 + 20_000 + 150_000));
    assert_eq!(w.balance(tier0), ksh(30_000 - 20_000) - 10_500);
}

#[test]
fn daily_limit_sums_the_day_and_resets_at_local_midnight() {
    let mut w = World::new();
    let (float, _) = w.agent();
    let sender = w.wallet(Tier::Tier0); // 50,000.00 a day
    let receiver = w.wallet(Tier::Tier2);
    w.fund(sender, ksh(60_000));
    let send = |w: &World, minor| w.submit(TxnKind::Transfer, sender, receiver, minor);

    // 10:00 in Nairobi.
    w.accept(send(&w, ksh(20_000)));
    w.accept(send(&w, ksh(20_000)));
    assert_eq!(w.day_debits(sender), ksh(40_000));
    assert_eq!(
        w.reject(send(&w, ksh(10_000) + 1)),
        Rejection::ExceedsDailyLimit
    );
    w.accept(send(&w, ksh(10_000)));
    assert_eq!(w.day_debits(sender), ksh(50_000));
    assert_eq!(w.reject(send(&w, 1)), Rejection::ExceedsDailyLimit);
    // Cash-outs count against the same limit.
    let cash_out = w.submit(TxnKind::Withdrawal, sender, float, ksh(50));
    assert_eq!(w.reject(cash_out), Rejection::ExceedsDailyLimit);
    // Fees are not counted: the sender paid 105 + 105 + 90 on top.
    assert_eq!(w.balance(sender), ksh(60_000 - 50_000 - 300));

    // 23:59:59 in Nairobi (20:59:59 UTC): still the same local day.
    w.advance_seconds(14 * HOUR - 1);
    assert_eq!(w.reject(send(&w, 1)), Rejection::ExceedsDailyLimit);

    // 00:00:00 in Nairobi is 21:00 UTC: a new local day although the UTC date has not changed.
    w.advance_seconds(1);
    let start = Timestamp(T0_SECONDS * Timestamp::MICROS_PER_SECOND);
    assert_eq!(w.now.day_number(0), start.day_number(0));
    assert_eq!(w.now.day_number(3 * 3_600), start.day_number(3 * 3_600) + 1);
    assert_eq!(w.day_debits(sender), 0);
    let receipt = w.accept(send(&w, ksh(100)));
    assert_eq!(receipt.fee_minor, 0);
    assert_eq!(w.day_debits(sender), ksh(100));
    let stored = &w.ledger.accounts[&sender];
    assert_eq!(stored.day_debits_minor, ksh(100));
    assert_eq!(stored.day_number, w.now.day_number(3 * 3_600));
    assert_eq!(w.balance(sender), ksh(60_000 - 50_000 - 300 - 100));
}

#[test]
fn balance_limit_counts_pending_credits() {
    let mut w = World::new();
    let (float, _) = w.agent();
    let sender = w.wallet(Tier::Tier2);
    let receiver = w.wallet(Tier::Tier0); // may hold 100,000.00
    w.fund(sender, ksh(100_000));
    w.fund(receiver, ksh(70_000));
    w.issue_float(float, ksh(10_000));

    let hold = w.pending(TxnKind::Transfer, sender, receiver, ksh(20_000), HOUR);
    let pending = w.accept(hold).txn_id;
    assert_eq!(w.balance(receiver), ksh(70_000));
    assert_eq!(w.pending_credits(receiver), ksh(20_000));

    // Posted 70,000 + 15,000 would fit, but the 20,000 on its way counts too.
    let over = w.submit(TxnKind::Transfer, sender, receiver, ksh(15_000));
    assert_eq!(w.reject(over), Rejection::ExceedsBalanceLimit);
    let at_limit = w.submit(TxnKind::Transfer, sender, receiver, ksh(10_000));
    w.accept(at_limit);
    let cent = w.submit(TxnKind::Transfer, sender, receiver, 1);
    assert_eq!(w.reject(cent), Rejection::ExceedsBalanceLimit);
    let cash_in = w.submit(TxnKind::Deposit, float, receiver, ksh(10));
    assert_eq!(w.reject(cash_in), Rejection::ExceedsBalanceLimit);

    // Releasing the reservation frees the room again.
    let void = w.void(pending, VoidReason::Cancelled);
    w.accept(void);
    assert_eq!(w.pending_credits(receiver), 0);
    let fits = w.submit(TxnKind::Transfer, sender, receiver, ksh(20_000));
    w.accept(fits);
    assert_eq!(w.balance(receiver), ksh(100_000));
}

// ---------------------------------------------------------------------------------------------
// Idempotency and request bounds.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_retry_in_a_later_batch_replays_the_original_receipt_and_moves_nothing() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(5_000));

    let transfer = w.submit(TxnKind::Transfer, payer, payee, ksh(1_000));
    let original = w.accept(transfer.clone());
    let accounts = w.ledger.accounts.clone();
    let journal = w.ledger.journal.len();

    w.advance_seconds(2 * DAY);
    for _ in 0..3 {
        assert_eq!(w.run(transfer.clone()), Outcome::Replayed(original.clone()));
    }
    assert_eq!(w.ledger.accounts, accounts);
    assert_eq!(w.ledger.journal.len(), journal);
    assert_eq!(w.balance(payer), ksh(5_000) - ksh(1_000) - 1_300);
    assert_eq!(w.balance(payee), ksh(1_000));

    // Posting, voiding and reversing replay just the same.
    let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(100), HOUR);
    let pending = w.accept(hold).txn_id;
    let post = w.post(pending, None);
    let posted = w.accept(post.clone());
    let reverse = w.reverse(posted.txn_id);
    let reversed = w.accept(reverse.clone());
    let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(100), HOUR);
    let second = w.accept(hold).txn_id;
    let void = w.void(second, VoidReason::Cancelled);
    let voided = w.accept(void.clone());
    let accounts = w.ledger.accounts.clone();
    let journal = w.ledger.journal.len();
    let outcomes = w.execute(&[post, reverse, void]);
    assert_eq!(
        outcomes,
        vec![
            Outcome::Replayed(posted),
            Outcome::Replayed(reversed),
            Outcome::Replayed(voided)
        ]
    );
    assert_eq!(w.ledger.accounts, accounts);
    assert_eq!(w.ledger.journal.len(), journal);
}

#[test]
fn a_retry_within_one_batch_replays_and_moves_money_once() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(5_000));

    let transfer = w.submit(TxnKind::Transfer, payer, payee, ksh(1_000));
    let outcomes = w.execute(&[transfer.clone(), transfer.clone(), transfer]);
    let Outcome::Accepted(receipt) = &outcomes[0] else {
        panic!("first attempt not accepted: {outcomes:?}");
    };
    assert_eq!(outcomes[1], Outcome::Replayed(receipt.clone()));
    assert_eq!(outcomes[2], Outcome::Replayed(receipt.clone()));
    assert_eq!(w.balance(payer), ksh(5_000) - ksh(1_000) - 1_300);
    assert_eq!(w.balance(payee), ksh(1_000));
    assert_eq!(w.day_debits(payer), ksh(1_000));
}

#[test]
fn reusing_a_key_for_a_different_request_is_refused() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(5_000));

    let first = w.submit(TxnKind::Transfer, payer, payee, ksh(1_000));
    let Command::Submit(request) = &first else {
        unreachable!()
    };
    let mut different = request.clone();
    different.amount = Money::from_minor(ksh(1_001), KES);
    let different = Command::Submit(different);

    // Across batches.
    w.accept(first.clone());
    assert_eq!(w.reject(different.clone()), Rejection::IdempotencyKeyReused);
    // A different memo is a different request too.
    let memo = with_memo(first.clone(), "rent");
    assert_eq!(w.reject(memo), Rejection::IdempotencyKeyReused);
    // Another kind of command under the same key as well.
    let post = with_key(w.post(TxnId(1), None), first.idempotency_key());
    assert_eq!(w.reject(post), Rejection::IdempotencyKeyReused);

    // Within one batch.
    let fresh = w.submit(TxnKind::Transfer, payer, payee, ksh(100));
    let clash = with_memo(fresh.clone(), "changed");
    let outcomes = w.execute(&[fresh, clash]);
    assert!(matches!(outcomes[0], Outcome::Accepted(_)));
    assert_eq!(
        outcomes[1],
        Outcome::Rejected(Rejection::IdempotencyKeyReused)
    );
    assert_eq!(w.balance(payee), ksh(1_100));

    // A key whose command was refused is not spent: the same request may succeed later.
    let broke = w.wallet(Tier::Tier1);
    let early = w.submit(TxnKind::Transfer, broke, payee, ksh(100));
    assert_eq!(w.reject(early.clone()), Rejection::InsufficientFunds);
    w.fund(broke, ksh(200));
    w.accept(early);
}

#[test]
fn idempotency_keys_must_be_short_printable_ascii() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(5_000));
    let transfer = w.submit(TxnKind::Transfer, payer, payee, ksh(10));

    let bad = [
        String::new(),
        "x".repeat(mkoba_ledger::rules::bounds::IDEMPOTENCY_KEY_LEN_MAX + 1),
        "has space".to_owned(),
        "tab\there".to_owned(),
        "line\n".to_owned(),
        "del\u{7f}".to_owned(),
        "caf\u{e9}".to_owned(),
    ];
    for key in bad {
        let command = with_key(transfer.clone(), &key);
        assert_eq!(
            w.reject(command),
            Rejection::IdempotencyKeyInvalid,
            "{key:?}"
        );
    }
    // The key is checked before anything else, even the pending it names.
    let post = with_key(w.post(TxnId(999_999), None), "");
    assert_eq!(w.reject(post), Rejection::IdempotencyKeyInvalid);

    let longest = with_key(
        transfer,
        &"K".repeat(mkoba_ledger::rules::bounds::IDEMPOTENCY_KEY_LEN_MAX),
    );
    w.accept(longest);
    let punctuation = with_key(
        w.submit(TxnKind::Transfer, payer, payee, ksh(10)),
        "order#42/retry:1~!",
    );
    w.accept(punctuation);
    assert_eq!(w.balance(payee), ksh(20));
}

#[test]
fn memo_and_metadata_are_bounded_in_bytes() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(5_000));
    let transfer = |w: &World| w.submit(TxnKind::Transfer, payer, payee, ksh(10));

    let long = with_memo(transfer(&w), &"m".repeat(141));
    assert_eq!(w.reject(long), Rejection::MemoTooLong);
    // 71 two-byte characters are 142 bytes.
    let wide = with_memo(transfer(&w), &"\u{e9}".repeat(71));
    assert_eq!(w.reject(wide), Rejection::MemoTooLong);
    let fits = with_memo(transfer(&w), &"m".repeat(140));
    let receipt = w.accept(fits);
    assert_eq!(w.entry(receipt.txn_id).memo, "m".repeat(140));

    let Command::Submit(mut request) = transfer(&w) else {
        unreachable!()
    };
    request.metadata = "x".repeat(2_049);
    assert_eq!(
        w.reject(Command::Submit(request.clone())),
        Rejection::MetadataTooLong
    );
    request.metadata = format!("{{\"ref\":\"{}\"}}", "y".repeat(2_000));
    let receipt = w.accept(Command::Submit(request.clone()));
    assert_eq!(w.entry(receipt.txn_id).metadata, request.metadata);

    // Reversal memos are bounded too.
    let Command::Reverse {
        idempotency_key,
        original,
        ..
    } = w.reverse(receipt.txn_id)
    else {
        unreachable!()
    };
    let long = Command::Reverse {
        idempotency_key,
        original,
        memo: "r".repeat(141),
    };
    assert_eq!(w.reject(long), Rejection::MemoTooLong);
}

// ---------------------------------------------------------------------------------------------
// Two-phase transfers.
// ---------------------------------------------------------------------------------------------

/// A tier-1 payer holding 10,000.00, a payee, and a 3,000.00 reservation between them.
fn reserved_world() -> (World, AccountId, AccountId, Receipt) {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(10_000));
    let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(3_000), HOUR);
    let receipt = w.accept(hold);
    (w, payer, payee, receipt)
}

#[test]
fn a_pending_transfer_reserves_without_moving_money() {
    let (w, payer, payee, receipt) = reserved_world();

    // 3,000.00 is in the 2,501–3,500 send band: 53.00 is reserved with it.
    assert_eq!(receipt.phase, Phase::Pending);
    assert_eq!(receipt.kind, TxnKind::Transfer);
    assert_eq!(receipt.amount, Money::from_minor(ksh(3_000), KES));
    assert_eq!(receipt.fee_minor, 5_300);
    assert_eq!(receipt.commission_minor, 0);
    assert_eq!(receipt.expires_at, Some(w.now.saturating_add_seconds(HOUR)));

    assert_eq!(w.balance(payer), ksh(10_000));
    assert_eq!(w.pending_debits(payer), ksh(3_000) + 5_300);
    assert_eq!(w.available(payer), ksh(10_000) - ksh(3_000) - 5_300);
    assert_eq!(w.balance(payee), 0);
    assert_eq!(w.pending_credits(payee), ksh(3_000));
    assert_eq!(w.available(payee), 0);
    assert_eq!(w.balance(w.revenue), 0);
    assert_eq!(w.pending_credits(w.revenue), 5_300);
    assert_eq!(w.day_debits(payer), ksh(3_000));

    let entry = w.entry(receipt.txn_id);
    assert!(entry.postings.is_empty());
    assert_eq!(
        entry.reservations,
        vec![
            posting(Leg::Principal, payer, payee, ksh(3_000)),
            posting(Leg::Fee, payer, w.revenue, 5_300),
        ]
    );
    assert_eq!(w.pending_status(receipt.txn_id), PendingStatus::Open);
}

#[test]
fn posting_a_pending_in_full_moves_the_reserved_amount() {
    let (mut w, payer, payee, pending) = reserved_world();
    w.advance_seconds(60);
    let post = w.post(pending.txn_id, None);
    let receipt = w.accept(post);

    assert_eq!(receipt.phase, Phase::PostPending);
    assert_eq!(receipt.kind, TxnKind::Transfer);
    assert_eq!(receipt.amount, Money::from_minor(ksh(3_000), KES));
    assert_eq!(receipt.fee_minor, 5_300);
    assert_eq!(receipt.related, Some(pending.txn_id));
    assert_eq!(receipt.created_at, w.now);
    assert_eq!(receipt.expires_at, None);
    assert_eq!((receipt.debit, receipt.credit), (payer, payee));

    assert_eq!(w.balance(payer), ksh(10_000) - ksh(3_000) - 5_300);
    assert_eq!(w.pending_debits(payer), 0);
    assert_eq!(w.balance(payee), ksh(3_000));
    assert_eq!(w.pending_credits(payee), 0);
    assert_eq!(w.balance(w.revenue), 5_300);
    assert_eq!(w.pending_credits(w.revenue), 0);
    assert_eq!(w.day_debits(payer), ksh(3_000));
    assert_eq!(w.pending_status(pending.txn_id), PendingStatus::Posted);
}

#[test]
fn posting_a_pending_in_part_recomputes_the_fee_and_releases_the_rest() {
    let (mut w, payer, payee, pending) = reserved_world();
    let post = w.post(pending.txn_id, Some(ksh(1_000)));
    let receipt = w.accept(post);

    // The fee is that of 1,000.00 (13.00), not of the 3,000.00 reserved (53.00).
    assert_eq!(receipt.amount, Money::from_minor(ksh(1_000), KES));
    assert_eq!(receipt.fee_minor, 1_300);
    assert_eq!(w.balance(payer), ksh(10_000) - ksh(1_000) - 1_300);
    assert_eq!(w.pending_debits(payer), 0);
    assert_eq!(w.available(payer), w.balance(payer));
    assert_eq!(w.balance(payee), ksh(1_000));
    assert_eq!(w.pending_credits(payee), 0);
    assert_eq!(w.balance(w.revenue), 1_300);
    assert_eq!(w.pending_credits(w.revenue), 0);
    // Today's usage is refunded for the 2,000.00 that was not posted.
    assert_eq!(w.day_debits(payer), ksh(1_000));
    assert_eq!(
        w.postings_of(receipt.txn_id),
        vec![
            posting(Leg::Principal, payer, payee, ksh(1_000)),
            posting(Leg::Fee, payer, w.revenue, 1_300),
        ]
    );
}

#[test]
fn a_partial_post_gives_back_daily_room() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier0); // 50,000.00 a day
    let receiver = w.wallet(Tier::Tier2);
    w.fund(sender, ksh(60_000));
    let send = |w: &World, minor| w.submit(TxnKind::Transfer, sender, receiver, minor);

    w.accept(send(&w, ksh(20_000)));
    w.accept(send(&w, ksh(20_000)));
    let hold = w.pending(TxnKind::Transfer, sender, receiver, ksh(10_000), HOUR);
    let pending = w.accept(hold).txn_id;
    assert_eq!(w.day_debits(sender), ksh(50_000));
    assert_eq!(w.reject(send(&w, 1)), Rejection::ExceedsDailyLimit);

    let post = w.post(pending, Some(ksh(4_000)));
    assert_eq!(w.accept(post).fee_minor, 5_700);
    assert_eq!(w.day_debits(sender), ksh(44_000));
    assert_eq!(w.accept(send(&w, ksh(6_000))).fee_minor, 7_800);
    assert_eq!(w.reject(send(&w, 1)), Rejection::ExceedsDailyLimit);
    assert_eq!(
        w.balance(sender),
        ksh(60_000) - 2 * (ksh(20_000) + 10_500) - (ksh(4_000) + 5_700) - (ksh(6_000) + 7_800)
    );
    assert_eq!(w.balance(receiver), ksh(50_000));
}

#[test]
fn voiding_releases_the_reservation_and_todays_usage() {
    let (mut w, payer, payee, pending) = reserved_world();
    let void = w.void(pending.txn_id, VoidReason::Cancelled);
    let receipt = w.accept(void);

    assert_eq!(receipt.phase, Phase::VoidPending);
    assert_eq!(receipt.amount, Money::from_minor(ksh(3_000), KES));
    assert_eq!((receipt.fee_minor, receipt.commission_minor), (0, 0));
    assert_eq!(receipt.related, Some(pending.txn_id));
    assert!(w.postings_of(receipt.txn_id).is_empty());
    assert_eq!(w.balance(payer), ksh(10_000));
    assert_eq!(w.available(payer), ksh(10_000));
    assert_eq!(w.pending_credits(payee), 0);
    assert_eq!(w.pending_credits(w.revenue), 0);
    assert_eq!(w.day_debits(payer), 0);
    assert_eq!(w.pending_status(pending.txn_id), PendingStatus::Voided);

    let post = w.post(pending.txn_id, None);
    assert_eq!(w.reject(post), Rejection::PendingAlreadyVoided);
    let again = w.void(pending.txn_id, VoidReason::Cancelled);
    assert_eq!(w.reject(again), Rejection::PendingAlreadyVoided);
    assert_eq!(w.balance(payee), 0);
}

#[test]
fn a_pending_is_posted_at_most_once() {
    let (mut w, payer, payee, pending) = reserved_world();
    let post = w.post(pending.txn_id, Some(ksh(500)));
    w.accept(post);
    let again = w.post(pending.txn_id, Some(ksh(500)));
    assert_eq!(w.reject(again), Rejection::PendingAlreadyPosted);
    let void = w.void(pending.txn_id, VoidReason::Cancelled);
    assert_eq!(w.reject(void), Rejection::PendingAlreadyPosted);
    assert_eq!(w.balance(payee), ksh(500));
    assert_eq!(w.balance(payer), ksh(10_000) - ksh(500) - 700);
}

#[test]
fn an_expired_pending_cannot_be_posted_and_is_swept() {
    let (mut w, payer, payee, pending) = reserved_world();

    // One second before expiry the sweeper may not touch it.
    w.advance_seconds(HOUR - 1);
    let early = w.void(pending.txn_id, VoidReason::Expired);
    assert_eq!(w.reject(early), Rejection::ExpiryInvalid);

    // At expiry it can no longer be posted, though the reservation stands until swept.
    w.advance_seconds(1);
    let late = w.post(pending.txn_id, None);
    assert_eq!(w.reject(late), Rejection::PendingExpired);
    assert_eq!(w.pending_debits(payer), ksh(3_000) + 5_300);

    let sweep = w.void(pending.txn_id, VoidReason::Expired);
    let receipt = w.accept(sweep);
    assert_eq!(receipt.phase, Phase::VoidPending);
    assert_eq!(w.pending_status(pending.txn_id), PendingStatus::Expired);
    assert_eq!(w.pending_debits(payer), 0);
    assert_eq!(w.pending_credits(payee), 0);
    assert_eq!(w.available(payer), ksh(10_000));
    assert_eq!(w.day_debits(payer), 0); // swept on the same local day

    let post = w.post(pending.txn_id, None);
    assert_eq!(w.reject(post), Rejection::PendingExpired);
    let cancel = w.void(pending.txn_id, VoidReason::Cancelled);
    assert_eq!(w.reject(cancel), Rejection::PendingExpired);
    let unknown = w.post(TxnId(999_999), None);
    assert_eq!(w.reject(unknown), Rejection::PendingNotFound);
}

#[test]
fn pending_expiry_must_be_within_range() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(1_000));
    for seconds in [0, -1, -HOUR, 7 * DAY + 1, i64::MAX] {
        let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(10), seconds);
        assert_eq!(w.reject(hold), Rejection::ExpiryInvalid, "{seconds}");
    }
    for seconds in [1, 7 * DAY] {
        let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(10), seconds);
        let receipt = w.accept(hold);
        assert_eq!(
            receipt.expires_at,
            Some(w.now.saturating_add_seconds(seconds))
        );
    }
}

#[test]
fn a_post_may_not_exceed_the_reservation() {
    let (mut w, payer, payee, pending) = reserved_world();
    let over = w.post(pending.txn_id, Some(ksh(3_000) + 1));
    assert_eq!(w.reject(over), Rejection::PostExceedsPending);
    let zero = w.post(pending.txn_id, Some(0));
    assert_eq!(w.reject(zero), Rejection::AmountNotPositive);
    let negative = w.post(pending.txn_id, Some(-1));
    assert_eq!(w.reject(negative), Rejection::AmountNotPositive);
    let exact = w.post(pending.txn_id, Some(ksh(3_000)));
    w.accept(exact);
    assert_eq!(w.balance(payee), ksh(3_000));
    assert_eq!(w.balance(payer), ksh(10_000) - ksh(3_000) - 5_300);
}

#[test]
fn pending_withdrawal_and_merchant_payment_settle_their_other_legs_when_posted() {
    let mut w = World::new();
    let (float, commission) = w.agent();
    let customer = w.wallet(Tier::Tier2);
    let merchant = w.merchant();
    w.fund(customer, ksh(20_000));

    // The customer reserves principal and withdraw fee; the commission waits for the post.
    let hold = w.pending(TxnKind::Withdrawal, customer, float, ksh(2_500), HOUR);
    let receipt = w.accept(hold);
    assert_eq!((receipt.fee_minor, receipt.commission_minor), (2_900, 0));
    assert_eq!(w.pending_debits(customer), ksh(2_500) + 2_900);
    assert_eq!(w.balance(commission), 0);
    let post = w.post(receipt.txn_id, None);
    let posted = w.accept(post);
    assert_eq!((posted.fee_minor, posted.commission_minor), (2_900, 1_500));
    assert_eq!(w.balance(commission), 1_500);
    assert_eq!(w.balance(float), ksh(2_500));

    // A merchant's fee is not the payer's to reserve; the merchant pays it on the post.
    let hold = w.pending(
        TxnKind::MerchantPayment,
        customer,
        merchant,
        ksh(10_000),
        HOUR,
    );
    let receipt = w.accept(hold);
    assert_eq!(receipt.fee_minor, 0);
    assert_eq!(w.pending_debits(customer), ksh(10_000));
    let post = w.post(receipt.txn_id, Some(ksh(8_000)));
    let posted = w.accept(post);
    assert_eq!(posted.fee_minor, 4_000);
    assert_eq!(w.balance(merchant), ksh(8_000) - 4_000);
    assert_eq!(
        w.balance(customer),
        ksh(20_000) - ksh(2_500) - 2_900 - ksh(8_000)
    );
    assert_eq!(w.pending_debits(customer), 0);
    assert_eq!(w.balance(w.revenue), 2_900 - 1_500 + 4_000);
}

// ---------------------------------------------------------------------------------------------
// Reversals.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_reversal_within_the_window_returns_the_principal_but_not_the_fee() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier1);
    let receiver = w.wallet(Tier::Tier1);
    w.fund(sender, ksh(5_000));
    let transfer = w.submit(TxnKind::Transfer, sender, receiver, ksh(1_000));
    let original = w.accept(transfer);

    w.advance_seconds(HOUR);
    let reverse = w.reverse(original.txn_id);
    let receipt = w.accept(reverse);
    assert_eq!(receipt.kind, TxnKind::Reversal);
    assert_eq!(receipt.phase, Phase::Posted);
    assert_eq!(receipt.amount, Money::from_minor(ksh(1_000), KES));
    assert_eq!((receipt.fee_minor, receipt.commission_minor), (0, 0));
    assert_eq!((receipt.debit, receipt.credit), (receiver, sender));
    assert_eq!(receipt.related, Some(original.txn_id));
    assert_eq!(receipt.created_at, w.now);
    assert_eq!(w.entry(receipt.txn_id).memo, "customer asked");
    assert_eq!(
        w.postings_of(receipt.txn_id),
        vec![posting(Leg::Principal, receiver, sender, ksh(1_000))]
    );
    assert_eq!(w.balance(sender), ksh(5_000) - 1_300);
    assert_eq!(w.balance(receiver), 0);
    assert_eq!(w.balance(w.revenue), 1_300);

    // Nothing is left to recover, even once the receiver holds other money.
    w.fund(receiver, ksh(3_000));
    let again = w.reverse(original.txn_id);
    assert_eq!(w.reject(again), Rejection::ReversalNothingRecoverable);
    assert_eq!(w.balance(receiver), ksh(3_000));

    // A posted pending transfer is reversible too.
    let hold = w.pending(TxnKind::Transfer, sender, receiver, ksh(100), HOUR);
    let pending = w.accept(hold).txn_id;
    let post = w.post(pending, None);
    let posted = w.accept(post);
    let reverse = w.reverse(posted.txn_id);
    assert_eq!(w.accept(reverse).amount.minor(), ksh(100));
    assert_eq!(w.balance(receiver), ksh(3_000));
}

#[test]
fn a_reversal_only_recovers_what_the_recipient_still_holds() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier2);
    let receiver = w.wallet(Tier::Tier1);
    let shop = w.wallet(Tier::Tier1);
    w.fund(sender, ksh(10_000));
    let transfer = w.submit(TxnKind::Transfer, sender, receiver, ksh(1_000));
    let original = w.accept(transfer).txn_id;
    let spend = w.submit(TxnKind::Transfer, receiver, shop, ksh(700));
    w.accept(spend);
    assert_eq!(w.balance(receiver), ksh(287));

    let first = w.reverse(original);
    assert_eq!(w.accept(first).amount.minor(), ksh(287));
    assert_eq!(w.balance(receiver), 0);
    assert_eq!(w.balance(sender), ksh(10_000) - ksh(1_013) + ksh(287));

    // An empty wallet yields nothing, and the refused attempt is not counted.
    let empty = w.reverse(original);
    assert_eq!(w.reject(empty), Rejection::ReversalNothingRecoverable);

    w.fund(receiver, ksh(100));
    let second = w.reverse(original);
    assert_eq!(w.accept(second).amount.minor(), ksh(100));

    // Reserved money is not held: only what is available can be taken back.
    w.fund(receiver, ksh(5_000));
    let other = w.wallet(Tier::Tier1);
    let hold = w.pending(TxnKind::Transfer, receiver, other, ksh(4_500), HOUR);
    assert_eq!(w.accept(hold).fee_minor, 5_700);
    assert_eq!(w.available(receiver), ksh(5_000 - 4_557));
    let third = w.reverse(original);
    assert_eq!(w.accept(third).amount.minor(), ksh(443));

    // The sender got back everything but what the receiver spent or reserved, and the fee.
    let recovered = ksh(287 + 100 + 443);
    assert_eq!(w.balance(sender), ksh(10_000) - ksh(1_013) + recovered);
    assert_eq!(w.available(receiver), 0);
}

#[test]
fn a_transaction_is_reversed_at_most_three_times() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier2);
    let receiver = w.wallet(Tier::Tier1);
    let shop = w.wallet(Tier::Tier1);
    w.fund(sender, ksh(10_000));
    let transfer = w.submit(TxnKind::Transfer, sender, receiver, ksh(1_000));
    let original = w.accept(transfer).txn_id;
    let spend = w.submit(TxnKind::Transfer, receiver, shop, ksh(900));
    w.accept(spend); // 900 + 13 fee leaves 87

    for topup in [None, Some(ksh(50)), Some(ksh(10))] {
        if let Some(topup) = topup {
            w.fund(receiver, topup);
        }
        let reverse = w.reverse(original);
        w.accept(reverse);
        assert_eq!(w.balance(receiver), 0);
    }
    // 853.00 is still outstanding and the receiver can pay it, but three attempts are the limit.
    w.fund(receiver, ksh(5_000));
    let fourth = w.reverse(original);
    assert_eq!(w.reject(fourth), Rejection::ReversalAttemptsExhausted);
    assert_eq!(
        w.balance(sender),
        ksh(10_000) - ksh(1_013) + ksh(87 + 50 + 10)
    );
}

#[test]
fn the_reversal_window_closes_after_twenty_four_hours() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier1);
    let receiver = w.wallet(Tier::Tier1);
    w.fund(sender, ksh(5_000));
    let first = w.submit(TxnKind::Transfer, sender, receiver, ksh(100));
    let first = w.accept(first).txn_id;
    let second = w.submit(TxnKind::Transfer, sender, receiver, ksh(200));
    let second = w.accept(second).txn_id;

    // Exactly 24 hours later is still inside the window...
    w.advance_seconds(DAY);
    let reverse = w.reverse(first);
    assert_eq!(w.accept(reverse).amount.minor(), ksh(100));
    // ...one microsecond later is not.
    w.now = Timestamp(w.now.0 + 1);
    let late = w.reverse(second);
    assert_eq!(w.reject(late), Rejection::ReversalWindowClosed);
    assert_eq!(w.balance(receiver), ksh(200));
}

#[test]
fn only_posted_money_of_reversible_kinds_can_be_reversed() {
    let mut w = World::new();
    let (float, _) = w.agent();
    let customer = w.wallet(Tier::Tier1);
    let other = w.wallet(Tier::Tier1);
    w.fund(customer, ksh(5_000));

    let issue = w.issue_float(float, ksh(1_000)).txn_id;
    let reverse = w.reverse(issue);
    assert_eq!(w.reject(reverse), Rejection::ReversalNotAllowed);

    let cash_out = w.submit(TxnKind::Withdrawal, customer, float, ksh(100));
    let cash_out = w.accept(cash_out).txn_id;
    let reverse = w.reverse(cash_out);
    assert_eq!(w.reject(reverse), Rejection::ReversalNotAllowed);

    // A reservation moved no money; nor did its void.
    let hold = w.pending(TxnKind::Transfer, customer, other, ksh(100), HOUR);
    let pending = w.accept(hold).txn_id;
    let reverse = w.reverse(pending);
    assert_eq!(w.reject(reverse), Rejection::ReversalNotAllowed);
    let void = w.void(pending, VoidReason::Cancelled);
    let void = w.accept(void).txn_id;
    let reverse = w.reverse(void);
    assert_eq!(w.reject(reverse), Rejection::ReversalNotAllowed);

    // A reversal is not itself reversible.
    let transfer = w.submit(TxnKind::Transfer, customer, other, ksh(100));
    let transfer = w.accept(transfer).txn_id;
    let reverse = w.reverse(transfer);
    let reversal = w.accept(reverse).txn_id;
    let reverse = w.reverse(reversal);
    assert_eq!(w.reject(reverse), Rejection::ReversalNotAllowed);

    let missing = w.reverse(TxnId(987_654));
    assert_eq!(w.reject(missing), Rejection::TransactionNotFound);
}

#[test]
fn a_cash_in_reversal_returns_the_money_to_the_agent() {
    let mut w = World::new();
    let (float, commission) = w.agent();
    let customer = w.wallet(Tier::Tier1);
    w.issue_float(float, ksh(10_000));
    let cash_in = w.submit(TxnKind::Deposit, float, customer, ksh(1_000));
    let original = w.accept(cash_in).txn_id;
    let reverse = w.reverse(original);
    let receipt = w.accept(reverse);
    assert_eq!((receipt.debit, receipt.credit), (customer, float));
    assert_eq!(w.balance(float), ksh(10_000));
    assert_eq!(w.balance(customer), 0);
    // The commission is not clawed back by the ledger.
    assert_eq!(w.balance(commission), 1_500);
}

#[test]
fn blacklisted_accounts_block_reversals() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier1);
    let receiver = w.wallet(Tier::Tier1);
    w.fund(sender, ksh(5_000));
    let transfer = w.submit(TxnKind::Transfer, sender, receiver, ksh(1_000));
    let original = w.accept(transfer).txn_id;

    w.set_blacklisted(receiver, true);
    let reverse = w.reverse(original);
    assert_eq!(w.reject(reverse), Rejection::AccountBlacklisted);
    w.set_blacklisted(receiver, false);
    w.set_blacklisted(sender, true);
    let reverse = w.reverse(original);
    assert_eq!(w.reject(reverse), Rejection::AccountBlacklisted);
    w.set_blacklisted(sender, false);

    let reverse = w.reverse(original);
    assert_eq!(w.accept(reverse).amount.minor(), ksh(1_000));
}

#[test]
fn a_recipient_with_nothing_available_yields_nothing() {
    let mut w = World::new();
    let sender = w.wallet(Tier::Tier1);
    let receiver = w.wallet(Tier::Tier1);
    let shop = w.merchant();
    w.fund(sender, ksh(5_000));
    let transfer = w.submit(TxnKind::Transfer, sender, receiver, ksh(1_000));
    let original = w.accept(transfer).txn_id;
    let spend = w.submit(TxnKind::MerchantPayment, receiver, shop, ksh(1_000));
    w.accept(spend);
    let reverse = w.reverse(original);
    assert_eq!(w.reject(reverse), Rejection::ReversalNothingRecoverable);
    // The refused attempts did not count: three more are still allowed.
    w.fund(receiver, ksh(10));
    let reverse = w.reverse(original);
    assert_eq!(w.accept(reverse).amount.minor(), ksh(10));
}

// ---------------------------------------------------------------------------------------------
// Batches and reconciliation.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_rejected_command_does_not_affect_its_neighbours() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(1_000));

    // The middle command passes every check until its floor: 800 + 13 > 1,000 - 307.
    let batch = [
        w.submit(TxnKind::Transfer, payer, payee, ksh(300)),
        w.submit(TxnKind::Transfer, payer, payee, ksh(800)),
        w.submit(TxnKind::Transfer, payer, payee, ksh(200)),
    ];
    let outcomes = w.execute(&batch);
    let (Outcome::Accepted(first), Outcome::Accepted(third)) = (&outcomes[0], &outcomes[2]) else {
        panic!("neighbours not accepted: {outcomes:?}");
    };
    assert_eq!(outcomes[1], Outcome::Rejected(Rejection::InsufficientFunds));
    // The refused command leaves a gap in the ids.
    assert_eq!(third.txn_id.0, first.txn_id.0 + 2);
    assert_eq!(w.balance(payer), ksh(1_000) - ksh(307) - ksh(207));
    assert_eq!(w.balance(payee), ksh(500));
    assert_eq!(w.day_debits(payer), ksh(500));
    assert_eq!(w.balance(w.revenue), 1_400);

    // Other refusals in the middle of a batch, including a refused reservation.
    let batch = [
        w.submit(TxnKind::Transfer, payer, payee, ksh(10)),
        with_key(w.submit(TxnKind::Transfer, payer, payee, ksh(10)), ""),
        w.pending(TxnKind::Transfer, payer, payee, ksh(10), 0),
        w.pending(TxnKind::Transfer, payer, payee, ksh(480), HOUR),
        w.submit(TxnKind::Transfer, payer, payee, ksh(10)),
    ];
    let outcomes = w.execute(&batch);
    let rejections: Vec<Option<Rejection>> = outcomes.iter().map(Outcome::rejection).collect();
    assert_eq!(
        rejections,
        vec![
            None,
            Some(Rejection::IdempotencyKeyInvalid),
            Some(Rejection::ExpiryInvalid),
            Some(Rejection::InsufficientFunds), // 480 + 7 > 486 - 10
            None,
        ]
    );
    assert_eq!(w.balance(payer), ksh(486) - ksh(20));
    assert_eq!(w.pending_debits(payer), 0);
    assert_eq!(w.pending_credits(payee), 0);
    assert_eq!(w.balance(payee), ksh(520));
}

#[test]
fn a_pending_can_be_created_and_resolved_in_one_batch() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(5_000));
    let hold = w.pending(TxnKind::Transfer, payer, payee, ksh(1_000), HOUR);
    let outcomes = w.execute(&[hold]);
    let pending = outcomes[0].receipt().unwrap().txn_id;
    // The next ids are allocated in order, so a batch may name a pending it creates.
    let next = TxnId(pending.0 + 1);
    let batch = [
        w.pending(TxnKind::Transfer, payer, payee, ksh(1_000), HOUR),
        w.post(next, Some(ksh(600))),
        w.void(pending, VoidReason::Cancelled),
    ];
    let outcomes = w.execute(&batch);
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Accepted(_))),
        "{outcomes:?}"
    );
    assert_eq!(w.pending_status(next), PendingStatus::Posted);
    assert_eq!(w.pending_status(pending), PendingStatus::Voided);
    assert_eq!(w.balance(payer), ksh(5_000) - ksh(600) - 1_300);
    assert_eq!(w.pending_debits(payer), 0);
    assert_eq!(w.day_debits(payer), ksh(600));
}

#[test]
fn reconcile_notices_a_tampered_balance() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(1_000));
    assert!(w.ledger.reconcile().balanced());
    w.ledger.accounts.get_mut(&payer).unwrap().balance_minor += 1;
    let report = w.ledger.reconcile();
    assert!(!report.balanced());
    assert!(
        report
            .mismatches
            .iter()
            .any(|m| m.contains("journal sums to")),
        "{report:?}"
    );
    assert!(
        report.mismatches.iter().any(|m| m.contains("not zero")),
        "{report:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Every rejection is reachable.
// ---------------------------------------------------------------------------------------------

#[test]
fn amount_text_rejections_come_from_parsing() {
    let max = ksh(250_000);
    let cases = [
        ("", KES, Rejection::AmountEmpty),
        ("   ", KES, Rejection::AmountEmpty),
        ("12,50", KES, Rejection::AmountInvalid),
        ("1e3", KES, Rejection::AmountInvalid),
        ("ten", KES, Rejection::AmountInvalid),
        ("-5", KES, Rejection::AmountNegative),
        ("-0.01", KES, Rejection::AmountNegative),
        ("12.505", KES, Rejection::AmountTooPrecise),
        ("1.5", UGX, Rejection::AmountTooPrecise),
        ("0.00", KES, Rejection::AmountNotPositive),
        ("250000.01", KES, Rejection::AmountExceedsMaximum),
    ];
    for (text, currency, expected) in cases {
        let err = Money::parse(text, currency, max).unwrap_err();
        let rejection = Rejection::from(err);
        assert_eq!(rejection, expected, "{text:?}");
        assert!(Rejection::ALL.contains(&rejection));
        assert_eq!(Rejection::from_name(rejection.name()), Some(rejection));
    }
    assert_eq!(
        Rejection::from(AmountError::Overflow).name(),
        "amount_overflow"
    );

    // A parsed amount goes straight into a request.
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier1);
    let payee = w.wallet(Tier::Tier1);
    w.fund(payer, ksh(2_000));
    let amount = Money::parse("1000.00", KES, max).unwrap();
    let transfer = w.submit_money(TxnKind::Transfer, payer, payee, amount);
    assert_eq!(w.accept(transfer).fee_minor, 1_300);
    assert_eq!(w.balance(payer), ksh(2_000) - ksh(1_013));
}

/// Runs commands that must each be refused with a given reason, recording the names seen.
struct Script {
    world: World,
    seen: BTreeSet<&'static str>,
}

impl Script {
    #[track_caller]
    fn expect(&mut self, command: Command, expected: Rejection) {
        let got = self.world.reject(command);
        assert_eq!(got, expected);
        self.seen.insert(got.name());
    }
}

/// Fills one float with issuances of the largest amount validated rules allow (the operator
/// maximum at `bounds::AMOUNT_MAX_MINOR`, 10^15 minor units): 9,223 fit in an i64, and the
/// 9,224th must be refused cleanly rather than wrap or panic. With the Kenyan defaults (an
/// operator maximum of 10^10) the same needs about 9.2 × 10^8 issuances into one account, so in
/// practice `amount_overflow` is unreachable, but it is not impossible under validated rules.
fn overflow_rejection() -> Rejection {
    let mut rules = LedgerRules::kenya_defaults();
    rules
        .currencies
        .get_mut(&KES)
        .unwrap()
        .operator_amount_max_minor = bounds::AMOUNT_MAX_MINOR;
    let mut w = World::with_rules(rules);
    let float = w.ledger.open(AccountKind::AgentFloat, KES, Tier::Tier2);
    let fits = i64::MAX / bounds::AMOUNT_MAX_MINOR; // 9,223
    let batch: Vec<Command> = (0..=fits)
        .map(|_| {
            w.submit(
                TxnKind::FloatIssuance,
                w.issuance,
                float,
                bounds::AMOUNT_MAX_MINOR,
            )
        })
        .collect();
    let outcomes = w.execute(&batch);
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Accepted(_)))
        .count();
    assert_eq!(i64::try_from(accepted).unwrap(), fits);
    assert_eq!(w.balance(float), fits * bounds::AMOUNT_MAX_MINOR);
    assert_eq!(w.balance(w.issuance), -fits * bounds::AMOUNT_MAX_MINOR);
    outcomes.last().unwrap().rejection().unwrap()
}

#[test]
fn amount_overflow_is_refused_not_panicked() {
    assert_eq!(overflow_rejection(), Rejection::AmountOverflow);
}

#[test]
fn every_ledger_rejection_is_produced_by_a_scripted_run() {
    let mut s = Script {
        world: World::with_rules(rules_with_ugx()),
        seen: BTreeSet::new(),
    };
    let (float, _) = s.world.agent();
    let a = s.world.wallet(Tier::Tier0);
    let b = s.world.wallet(Tier::Tier2);
    let full = s.world.wallet(Tier::Tier0);
    let ugx_wallet = s
        .world
        .ledger
        .open(AccountKind::CustomerWallet, UGX, Tier::Tier1);
    s.world.fund(a, ksh(60_000));
    s.world.fund(b, ksh(100_000));
    s.world.fund(full, ksh(100_000));
    s.world.issue_float(float, ksh(10_000));
    let send = |w: &World, debit, credit, minor| w.submit(TxnKind::Transfer, debit, credit, minor);

    // Amounts and kinds.
    let c = send(&s.world, a, b, 0);
    s.expect(c, Rejection::AmountNotPositive);
    let c = send(&s.world, a, b, ksh(250_000) + 1);
    s.expect(c, Rejection::AmountExceedsMaximum);
    let c = s.world.submit(TxnKind::Withdrawal, a, float, ksh(50) - 1);
    s.expect(c, Rejection::BelowMinimumAmount);
    let c = send(&s.world, a, ugx_wallet, ksh(10));
    s.expect(c, Rejection::CurrencyMismatch);
    let c = s.world.submit_money(
        TxnKind::Transfer,
        a,
        b,
        Money::from_minor(100, Currency::GHS),
    );
    s.expect(c, Rejection::CurrencyNotEnabled);
    let c = send(&s.world, a, AccountId(999_999), ksh(10));
    s.expect(c, Rejection::AccountNotFound);
    s.world.set_status(b, AccountStatus::Frozen);
    let c = send(&s.world, a, b, ksh(10));
    s.expect(c, Rejection::AccountFrozen);
    s.world.set_status(b, AccountStatus::Closed);
    let c = send(&s.world, a, b, ksh(10));
    s.expect(c, Rejection::AccountClosed);
    s.world.set_status(b, AccountStatus::Active);
    let c = s.world.submit(TxnKind::Deposit, a, b, ksh(10));
    s.expect(c, Rejection::AccountKindNotAllowed);
    let c = send(&s.world, a, a, ksh(10));
    s.expect(c, Rejection::SameAccount);
    let empty = s.world.wallet(Tier::Tier1);
    let c = send(&s.world, empty, a, ksh(10));
    s.expect(c, Rejection::InsufficientFunds);

    // Limits.
    let c = send(&s.world, a, b, ksh(20_000) + 1);
    s.expect(c, Rejection::ExceedsTransactionLimit);
    for _ in 0..2 {
        let c = send(&s.world, a, b, ksh(20_000));
        s.world.accept(c);
    }
    let c = send(&s.world, a, b, ksh(10_000) + 1);
    s.expect(c, Rejection::ExceedsDailyLimit);
    let c = send(&s.world, b, full, 1);
    s.expect(c, Rejection::ExceedsBalanceLimit);

    // Request bounds and idempotency.
    let c = with_key(send(&s.world, b, a, ksh(10)), "");
    s.expect(c, Rejection::IdempotencyKeyInvalid);
    let c = send(&s.world, b, a, ksh(10));
    s.world.accept(c.clone());
    let Command::Submit(mut changed) = c else {
        unreachable!()
    };
    changed.amount = Money::from_minor(ksh(11), KES);
    s.expect(Command::Submit(changed), Rejection::IdempotencyKeyReused);
    let c = with_memo(send(&s.world, b, a, ksh(10)), &"m".repeat(141));
    s.expect(c, Rejection::MemoTooLong);
    let Command::Submit(mut r) = send(&s.world, b, a, ksh(10)) else {
        unreachable!()
    };
    r.metadata = "x".repeat(2_049);
    s.expect(Command::Submit(r), Rejection::MetadataTooLong);

    // Two-phase transfers.
    let c = s.world.pending(TxnKind::Transfer, b, a, ksh(10), 0);
    s.expect(c, Rejection::ExpiryInvalid);
    let c = s.world.post(TxnId(999_999), None);
    s.expect(c, Rejection::PendingNotFound);
    let hold = |w: &World| w.pending(TxnKind::Transfer, b, a, ksh(100), HOUR);
    let c = hold(&s.world);
    let posted = s.world.accept(c).txn_id;
    let c = s.world.post(posted, Some(ksh(100) + 1));
    s.expect(c, Rejection::PostExceedsPending);
    let c = s.world.post(posted, None);
    s.world.accept(c);
    let c = s.world.post(posted, None);
    s.expect(c, Rejection::PendingAlreadyPosted);
    let c = hold(&s.world);
    let voided = s.world.accept(c).txn_id;
    let c = s.world.void(voided, VoidReason::Cancelled);
    s.world.accept(c);
    let c = s.world.post(voided, None);
    s.expect(c, Rejection::PendingAlreadyVoided);
    let c = s.world.pending(TxnKind::Transfer, b, a, ksh(100), 60);
    let lapsing = s.world.accept(c).txn_id;

    // Reversals.
    let c = s.world.reverse(TxnId(999_999));
    s.expect(c, Rejection::TransactionNotFound);
    let issue = s.world.issue_float(float, ksh(100)).txn_id;
    let c = s.world.reverse(issue);
    s.expect(c, Rejection::ReversalNotAllowed);
    let r = s.world.wallet(Tier::Tier1);
    let c = send(&s.world, b, r, ksh(1_000));
    let original = s.world.accept(c).txn_id;
    let c = send(&s.world, r, b, ksh(900));
    s.world.accept(c); // 87.00 left
    s.world.set_blacklisted(r, true);
    let c = s.world.reverse(original);
    s.expect(c, Rejection::AccountBlacklisted);
    s.world.set_blacklisted(r, false);
    let c = s.world.reverse(original);
    s.world.accept(c);
    let c = s.world.reverse(original);
    s.expect(c, Rejection::ReversalNothingRecoverable);
    for topup in [ksh(50), ksh(10)] {
        s.world.fund(r, topup);
        let c = s.world.reverse(original);
        s.world.accept(c);
    }
    s.world.fund(r, ksh(5_000));
    let c = s.world.reverse(original);
    s.expect(c, Rejection::ReversalAttemptsExhausted);

    s.world.advance_seconds(DAY + 1);
    let c = s.world.post(lapsing, None);
    s.expect(c, Rejection::PendingExpired);
    let c = s.world.reverse(posted_original(&s.world, posted));
    s.expect(c, Rejection::ReversalWindowClosed);

    // Refunds and allowances.
    let shop = s.world.merchant();
    let sale = s.world.submit(TxnKind::MerchantPayment, a, shop, ksh(100));
    let sale = s.world.accept(sale).txn_id;
    let c = s.world.refund(sale, Some(ksh(101)));
    s.expect(c, Rejection::RefundExceedsPayment);
    let friend = s.world.wallet(Tier::Tier2);
    let gift = s.world.submit(TxnKind::Transfer, a, friend, ksh(10));
    let gift = s.world.accept(gift).txn_id;
    let c = s.world.refund(gift, None);
    s.expect(c, Rejection::RefundNotAllowed);
    let c = s.world.charge(AllowanceId(999), 50);
    s.expect(c, Rejection::AllowanceNotFound);
    let allowance = s.world.grant(a, shop, ksh(50), ksh(1), DAY);
    let c = s.world.charge(allowance, ksh(2));
    s.expect(c, Rejection::AllowancePerChargeExceeded);
    let tight = s.world.grant(a, shop, 100, 100, DAY);
    let c = s.world.charge(tight, 100);
    s.world.accept(c);
    let c = s.world.charge(tight, 1);
    s.expect(c, Rejection::AllowanceCapExceeded);
    s.world
        .ledger
        .allowances
        .get_mut(&allowance)
        .unwrap()
        .active = false;
    let c = s.world.charge(allowance, 50);
    s.expect(c, Rejection::AllowanceRevoked);
    let brief = s.world.grant(a, shop, ksh(50), ksh(1), HOUR);
    s.world.advance_seconds(HOUR);
    let c = s.world.charge(brief, 50);
    s.expect(c, Rejection::AllowanceExpired);
    s.world.advance_seconds(31 * DAY);
    let c = s.world.refund(sale, None);
    s.expect(c, Rejection::RefundWindowClosed);

    // Arithmetic overflow needs i64 exhaustion; it has its own ledger.
    s.seen.insert(overflow_rejection().name());

    let parse_only = [
        Rejection::AmountEmpty,
        Rejection::AmountInvalid,
        Rejection::AmountNegative,
        Rejection::AmountTooPrecise,
    ];
    let expected: BTreeSet<&'static str> = Rejection::ALL
        .iter()
        .filter(|r| !parse_only.contains(r))
        .map(|r| r.name())
        .collect();
    let missing: Vec<&&str> = expected.difference(&s.seen).collect();
    assert!(missing.is_empty(), "never produced: {missing:?}");
    assert_eq!(s.seen, expected);
    s.world.assert_reconciled();
}

/// The transaction that posted `pending`.
fn posted_original(w: &World, pending: TxnId) -> TxnId {
    w.ledger
        .journal
        .iter()
        .find(|e| e.receipt.phase == Phase::PostPending && e.receipt.related == Some(pending))
        .unwrap()
        .receipt
        .txn_id
}

#[test]
fn a_merchant_refunds_in_parts_up_to_the_payment_and_reversals_count_too() {
    let mut w = World::new();
    let customer = w.wallet(Tier::Tier1);
    let shop = w.merchant();
    w.fund(customer, ksh(1_000));
    let pay = w.submit(TxnKind::MerchantPayment, customer, shop, ksh(400));
    let paid = w.accept(pay);
    let fee = paid.fee_minor;
    assert!(fee > 0, "the merchant pays a fee");
    let part = w.refund(paid.txn_id, Some(ksh(150)));
    let receipt = w.accept(part);
    assert_eq!(receipt.kind, TxnKind::Refund);
    assert_eq!((receipt.debit, receipt.credit), (shop, customer));
    assert_eq!(receipt.related, Some(paid.txn_id));
    assert_eq!(w.balance(customer), ksh(750));
    // The fee is not returned, so the merchant holds less than the rest of the payment.
    let rest = w.refund(paid.txn_id, None);
    assert_eq!(w.reject(rest), Rejection::InsufficientFunds);
    let other = w.wallet(Tier::Tier1);
    w.fund(other, ksh(100));
    let topup = w.submit(TxnKind::MerchantPayment, other, shop, ksh(50));
    w.accept(topup);
    let rest = w.refund(paid.txn_id, None);
    assert_eq!(w.accept(rest).amount.minor(), ksh(250), "the rest, no more");
    assert_eq!(w.balance(customer), ksh(1_000));
    let more = w.refund(paid.txn_id, Some(1));
    assert_eq!(w.reject(more), Rejection::RefundExceedsPayment);
    let reverse = w.reverse(paid.txn_id);
    assert_eq!(w.reject(reverse), Rejection::ReversalNothingRecoverable);
}

#[test]
fn an_allowance_caps_the_sum_of_its_charges_even_within_one_batch() {
    let mut w = World::new();
    let customer = w.wallet(Tier::Tier1);
    let shop = w.merchant();
    w.fund(customer, ksh(1_000));
    let allowance = w.grant(customer, shop, ksh(50), 50, 30 * DAY);
    let charges: Vec<Command> = (0..101).map(|_| w.charge(allowance, 50)).collect();
    let outcomes = w.execute(&charges);
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Accepted(_)))
        .count();
    assert_eq!(accepted, 100);
    assert!(matches!(
        outcomes.last(),
        Some(Outcome::Rejected(Rejection::AllowanceCapExceeded))
    ));
    assert_eq!(w.balance(customer), ksh(950));
    assert_eq!(w.ledger.allowances[&allowance].spent_minor, ksh(50));
    // A retry of an accepted charge replays it: it neither moves money nor spends the cap.
    let first = charges.first().unwrap().clone();
    assert!(matches!(w.run(first), Outcome::Replayed(_)));
    assert_eq!(w.balance(customer), ksh(950));
    // A charge the wallet cannot pay does not spend the allowance.
    let poor = w.wallet(Tier::Tier1);
    let empty = w.grant(poor, shop, ksh(10), ksh(10), DAY);
    let c = w.charge(empty, ksh(1));
    assert_eq!(w.reject(c), Rejection::InsufficientFunds);
    assert_eq!(w.ledger.allowances[&empty].spent_minor, 0);
}

#[test]
fn a_disbursement_pays_a_customer_from_a_merchant_under_the_customers_limits() {
    let mut w = World::new();
    let payer = w.wallet(Tier::Tier2);
    let shop = w.merchant();
    let winner = w.wallet(Tier::Tier0);
    w.fund(payer, ksh(200_000));
    let sale = w.submit(TxnKind::MerchantPayment, payer, shop, ksh(150_000));
    w.accept(sale);
    let held = w.balance(shop);
    let prize = w.submit(TxnKind::Disbursement, shop, winner, ksh(1_000));
    let receipt = w.accept(prize);
    assert_eq!(
        (receipt.kind, receipt.fee_minor),
        (TxnKind::Disbursement, 0)
    );
    assert_eq!(w.balance(winner), ksh(1_000));
    assert_eq!(w.balance(shop), held - ksh(1_000));
    // A tier-0 wallet's balance limit binds money received from a merchant too.
    let limit = w.ledger.rules.currencies[&KES]
        .tier(Tier::Tier0)
        .balance_minor;
    let over = w.submit(TxnKind::Disbursement, shop, winner, limit);
    let rejection = w.reject(over);
    assert!(
        matches!(
            rejection,
            Rejection::ExceedsBalanceLimit | Rejection::ExceedsTransactionLimit
        ),
        "{rejection:?}"
    );
    // Only a merchant may disburse.
    let wrong = w.submit(TxnKind::Disbursement, payer, winner, ksh(10));
    assert_eq!(w.reject(wrong), Rejection::AccountKindNotAllowed);
}
