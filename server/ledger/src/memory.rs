//! A whole ledger held in memory: the reference store for property tests and simulations.
//!
//! It does what the database store does (load a batch's state, apply it, write the results back)
//! without a database, so the rules can be exercised over millions of operations in seconds.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::code::TxnCodes;
use crate::command::{Command, JournalEntry, Outcome};
use crate::engine::{Batch, BatchState, PriorUse};
use crate::model::{
    AccountId, AccountKind, AccountState, AccountStatus, AllowanceId, AllowanceState, PendingState,
    PendingStatus, Phase, ReversibleTxn, Tier, Timestamp, TxnId, TxnKind,
};
use crate::money::Currency;
use crate::reconcile::{reconcile, AccountLine, Report};
use crate::rules::LedgerRules;

pub struct MemoryLedger {
    pub rules: LedgerRules,
    codes: TxnCodes,
    pub accounts: BTreeMap<AccountId, AccountState>,
    pub pendings: BTreeMap<TxnId, PendingState>,
    pub allowances: BTreeMap<AllowanceId, AllowanceState>,
    pub journal: Vec<JournalEntry>,
    keys: HashMap<String, usize>,
    /// Journal position of each transaction, and what reversals and refunds returned of it
    /// (amount, reversal count): kept as the journal grows, so long simulations stay linear.
    by_id: HashMap<TxnId, usize>,
    returned: HashMap<TxnId, (i64, u32)>,
    fee_revenue: BTreeMap<Currency, AccountId>,
    next_account: i64,
    next_txn: i64,
}

impl MemoryLedger {
    /// A ledger with a fee revenue and an issuance account for every enabled currency.
    pub fn new(rules: LedgerRules) -> MemoryLedger {
        let mut ledger = MemoryLedger {
            rules,
            codes: TxnCodes::new(7),
            accounts: BTreeMap::new(),
            pendings: BTreeMap::new(),
            allowances: BTreeMap::new(),
            journal: Vec::new(),
            keys: HashMap::new(),
            by_id: HashMap::new(),
            returned: HashMap::new(),
            fee_revenue: BTreeMap::new(),
            next_account: 1,
            next_txn: 1,
        };
        let currencies: Vec<Currency> = ledger.rules.currencies.keys().copied().collect();
        for currency in currencies {
            let revenue = ledger.open(AccountKind::FeeRevenue, currency, Tier::Tier2);
            ledger.open(AccountKind::EmoneyIssuance, currency, Tier::Tier2);
            ledger.fee_revenue.insert(currency, revenue);
        }
        ledger
    }

    /// A ledger that starts from accounts and allowances made elsewhere (a simulation mirroring a
    /// database store holds the same rows under the same ids), with an empty journal.
    pub fn from_state(
        rules: LedgerRules,
        accounts: BTreeMap<AccountId, AccountState>,
        allowances: BTreeMap<AllowanceId, AllowanceState>,
        fee_revenue: BTreeMap<Currency, AccountId>,
    ) -> MemoryLedger {
        let next_account = accounts.keys().map(|a| a.0 + 1).max().unwrap_or(1);
        MemoryLedger {
            rules,
            codes: TxnCodes::new(7),
            accounts,
            pendings: BTreeMap::new(),
            allowances,
            journal: Vec::new(),
            keys: HashMap::new(),
            by_id: HashMap::new(),
            returned: HashMap::new(),
            fee_revenue,
            next_account,
            next_txn: 1,
        }
    }

    pub fn issuance(&self, currency: Currency) -> Option<AccountId> {
        self.accounts
            .values()
            .find(|a| a.kind == AccountKind::EmoneyIssuance && a.currency == currency)
            .map(|a| a.id)
    }

    pub fn fee_revenue(&self, currency: Currency) -> Option<AccountId> {
        self.fee_revenue.get(&currency).copied()
    }

    pub fn open(&mut self, kind: AccountKind, currency: Currency, tier: Tier) -> AccountId {
        let id = AccountId(self.next_account);
        self.next_account += 1;
        self.accounts.insert(
            id,
            AccountState {
                id,
                kind,
                currency,
                status: AccountStatus::Active,
                tier,
                blacklisted: false,
                commission_account: None,
                balance_minor: 0,
                pending_debits_minor: 0,
                pending_credits_minor: 0,
                day_number: 0,
                day_debits_minor: 0,
            },
        );
        id
    }

    /// An agent float together with the commission account it earns into.
    pub fn open_agent(&mut self, currency: Currency) -> (AccountId, AccountId) {
        let commission = self.open(AccountKind::AgentCommission, currency, Tier::Tier2);
        let float = self.open(AccountKind::AgentFloat, currency, Tier::Tier2);
        if let Some(a) = self.accounts.get_mut(&float) {
            a.commission_account = Some(commission);
        }
        (float, commission)
    }

    /// Runs `commands` as one batch at `now`.
    pub fn execute(&mut self, commands: &[Command], now: Timestamp) -> Vec<Outcome> {
        // Only the pending transfers the commands name, as the database store loads them.
        let pendings = commands
            .iter()
            .filter_map(Command::pending_ref)
            .filter_map(|id| self.pendings.get(&id).map(|p| (id, p.clone())))
            .collect();
        let mut state = BatchState {
            accounts: self.accounts.clone(),
            pendings,
            originals: BTreeMap::new(),
            prior_keys: HashMap::new(),
            allowances: self.allowances.clone(),
            fee_revenue: self.fee_revenue.clone(),
        };
        for command in commands {
            if let Some(i) = self.keys.get(command.idempotency_key()) {
                if let Some(entry) = self.journal.get(*i) {
                    let prior = PriorUse {
                        fingerprint: entry.fingerprint.clone(),
                        receipt: entry.receipt.clone(),
                    };
                    state
                        .prior_keys
                        .insert(entry.idempotency_key.clone(), prior);
                }
            }
            if let Some(original) = command.original_ref() {
                if let Some(o) = self.reversible(original) {
                    state.originals.insert(original, o);
                }
            }
        }
        let codes = self.codes.clone();
        let rules = self.rules.clone();
        let mut batch = Batch::new(&rules, &codes, now, state);
        let mut outcomes = Vec::with_capacity(commands.len());
        for command in commands {
            let id = TxnId(self.next_txn);
            self.next_txn += 1;
            outcomes.push(batch.apply(command, id));
        }
        let writes = batch.finish();
        for account in writes.accounts {
            self.accounts.insert(account.id, account);
        }
        for allowance in writes.allowances {
            self.allowances.insert(allowance.id, allowance);
        }
        for pending in writes.new_pendings {
            self.pendings.insert(pending.txn_id, pending);
        }
        for (id, status, _) in writes.resolved_pendings {
            if let Some(p) = self.pendings.get_mut(&id) {
                p.status = status;
            }
        }
        for entry in writes.entries {
            self.keys
                .insert(entry.idempotency_key.clone(), self.journal.len());
            self.by_id.insert(entry.receipt.txn_id, self.journal.len());
            if let (TxnKind::Reversal | TxnKind::Refund, Some(related)) =
                (entry.receipt.kind, entry.receipt.related)
            {
                // Refunds return principal too, but only reversals count as reversal attempts.
                let tally = self.returned.entry(related).or_default();
                tally.0 += entry.receipt.amount.minor();
                tally.1 += u32::from(entry.receipt.kind == TxnKind::Reversal);
            }
            self.journal.push(entry);
        }
        outcomes
    }

    fn reversible(&self, id: TxnId) -> Option<ReversibleTxn> {
        let entry = self.journal.get(*self.by_id.get(&id)?)?;
        let r = &entry.receipt;
        let (reversed_minor, reversal_count) = self.returned.get(&id).copied().unwrap_or_default();
        Some(ReversibleTxn {
            txn_id: id,
            kind: r.kind,
            phase: r.phase,
            currency: r.amount.currency(),
            payer: r.debit,
            payee: r.credit,
            amount_minor: r.amount.minor(),
            created_at: r.created_at,
            reversed_minor,
            reversal_count,
        })
    }

    /// Reconciles the kept balances against the journal, as `mkoba admin reconcile` does.
    pub fn reconcile(&self) -> Report {
        let mut journal: BTreeMap<AccountId, (i64, i64, i64)> = BTreeMap::new();
        let open: HashSet<TxnId> = self
            .pendings
            .values()
            .filter(|p| p.status == PendingStatus::Open)
            .map(|p| p.txn_id)
            .collect();
        for entry in &self.journal {
            for p in &entry.postings {
                journal.entry(p.debit).or_default().0 -= p.amount_minor;
                journal.entry(p.credit).or_default().0 += p.amount_minor;
            }
            if entry.receipt.phase == Phase::Pending && open.contains(&entry.receipt.txn_id) {
                for p in &entry.reservations {
                    journal.entry(p.debit).or_default().1 += p.amount_minor;
                    journal.entry(p.credit).or_default().2 += p.amount_minor;
                }
            }
        }
        let lines: Vec<AccountLine> = self
            .accounts
            .values()
            .map(|a| {
                let (balance, pending_debits, pending_credits) =
                    journal.get(&a.id).copied().unwrap_or_default();
                AccountLine {
                    id: a.id,
                    kind: a.kind,
                    currency: a.currency,
                    balance_minor: a.balance_minor,
                    pending_debits_minor: a.pending_debits_minor,
                    pending_credits_minor: a.pending_credits_minor,
                    journal_balance_minor: balance,
                    journal_pending_debits_minor: pending_debits,
                    journal_pending_credits_minor: pending_credits,
                }
            })
            .collect();
        reconcile(&lines)
    }
}
